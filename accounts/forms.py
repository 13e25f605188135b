from django import forms
from django.core.exceptions import ValidationError

from .services import validate_dob


class SignupForm(forms.Form):
    """Extra fields of the web sign-up (allauth supplies e-mail, username and passwords)."""

    full_name = forms.CharField(max_length=150, label="Full name")
    dob = forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date"}))

    def clean_dob(self):
        dob = self.cleaned_data["dob"]
        try:
            validate_dob(dob)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["dob"]) from exc
        return dob

    def signup(self, request, user):
        user.full_name = self.cleaned_data["full_name"]
        user.dob = self.cleaned_data["dob"]
        user.save(update_fields=["full_name", "dob"])


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False)
    dob = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    avatar = forms.ImageField(required=False)
