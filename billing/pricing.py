"""The price registry: credits per unit of each billable thing.

Billing does not know what is sold for credits; the apps that sell it register their prices at
start-up (`AppConfig.ready()`), e.g. pipeline for each job kind from its engines:

    from billing.pricing import price_register
    price_register("text_to_3d", engine.price_credits)

`billing.services.price_quote` reads this table and nothing else. Registering an item again
replaces its price (a settings override in a test, a reload).
"""

from __future__ import annotations

_prices: dict[str, int] = {}


def price_register(item: str, unit_credits: int) -> None:
    """Credits one unit of `item` costs (0: free, still known)."""
    if not isinstance(item, str) or not item:
        raise TypeError("A price needs the item's name.")
    if isinstance(unit_credits, bool) or not isinstance(unit_credits, int) or unit_credits < 0:
        raise ValueError(f"The price of {item!r} must be a whole number of credits ≥ 0, not {unit_credits!r}.")
    _prices[item] = unit_credits


def price_unregister(item: str) -> None:
    """Forget `item` (an app that stops selling it; tests restoring the table)."""
    _prices.pop(item, None)


def price_table() -> dict[str, int]:
    """A copy of every registered item and its unit price."""
    return dict(_prices)


def price_of(item: str) -> int | None:
    return _prices.get(item)
