from django import forms
from django.conf import settings

from .selectors import PRODUCT_ORDERINGS

ORDERING_CHOICES = [
    ("name", "Name"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("newest", "Newest"),
]


class ProductFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search", "placeholder": "Juniper, pot, shears…"}))
    min_price = forms.DecimalField(required=False, min_value=0, label="Min price", widget=forms.NumberInput(attrs={"step": "1"}))
    max_price = forms.DecimalField(required=False, min_value=0, label="Max price", widget=forms.NumberInput(attrs={"step": "1"}))
    in_stock = forms.BooleanField(required=False, label="In stock only")
    ordering = forms.ChoiceField(required=False, choices=ORDERING_CHOICES, label="Sort by")

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        filters = {"q": data["q"] or "", "ordering": data["ordering"] if data["ordering"] in PRODUCT_ORDERINGS else "name"}
        if data["min_price"] is not None:
            filters["min_price"] = str(data["min_price"])
        if data["max_price"] is not None:
            filters["max_price"] = str(data["max_price"])
        if data["in_stock"]:
            filters["in_stock"] = "true"
        return filters


class AddToCartForm(forms.Form):
    product_id = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, initial=1, max_value=settings.SHOP_MAX_QUANTITY_PER_LINE)


class CheckoutForm(forms.Form):
    shipping_name = forms.CharField(max_length=150, label="Full name")
    shipping_address = forms.CharField(max_length=1000, label="Shipping address",
                                       widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Street, city, postcode, country"}))
