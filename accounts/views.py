from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render

from . import services
from .forms import ProfileForm


@login_required
def profile(request):
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.user_update(user=user, data={k: form.cleaned_data[k] for k in ("full_name", "dob")})
                if form.cleaned_data.get("avatar"):
                    services.user_set_avatar(user=user, upload=form.cleaned_data["avatar"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, "Profile saved.")
                return redirect("profile")
    else:
        form = ProfileForm(initial={"full_name": user.full_name, "dob": user.dob})
    return render(request, "accounts/profile.html", {"form": form, "email_verified": services.email_is_verified(user)})


@login_required
def my_avatar(request):
    if not request.user.avatar:
        raise Http404
    return FileResponse(request.user.avatar.open("rb"), content_type="image/png")
