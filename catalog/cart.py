"""The session cart: product ids and quantities only; prices are always read fresh."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from .models import Product
from .selectors import id_from_text

SESSION_KEY = "catalog_cart"


@dataclass
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity

    @property
    def available(self) -> bool:
        return self.product.is_active and self.product.stock_quantity >= self.quantity


class Cart:
    def __init__(self, session):
        self.session = session
        raw = session.get(SESSION_KEY) or {}
        self.quantities: dict[str, int] = {
            str(k): int(v) for k, v in raw.items() if id_from_text(str(k)) is not None and int(v) > 0}

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.quantities
        self.session.modified = True

    def add(self, *, product_id: int, quantity: int) -> int:
        limit = settings.SHOP_MAX_QUANTITY_PER_LINE
        new = min(self.quantities.get(str(product_id), 0) + quantity, limit)
        self.quantities[str(product_id)] = new
        self._save()
        return new

    def set(self, *, product_id: int, quantity: int) -> None:
        if quantity <= 0:
            self.quantities.pop(str(product_id), None)
        else:
            self.quantities[str(product_id)] = min(quantity, settings.SHOP_MAX_QUANTITY_PER_LINE)
        self._save()

    def clear(self) -> None:
        self.quantities = {}
        self._save()

    @property
    def count(self) -> int:
        return sum(self.quantities.values())

    def lines(self) -> list[CartLine]:
        ids = [int(k) for k in self.quantities]
        products = Product.objects.filter(pk__in=ids).select_related("category").order_by("name")
        found = {p.pk: p for p in products}
        # Products that vanished since they were added drop out of the cart.
        for missing in set(ids) - set(found):
            self.quantities.pop(str(missing), None)
            self._save()
        return [CartLine(product=p, quantity=self.quantities[str(p.pk)]) for p in products]

    @staticmethod
    def total(lines: list[CartLine]) -> Decimal:
        return sum((line.line_total for line in lines), Decimal("0"))
