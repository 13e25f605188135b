"""Who fulfils a payment: a registry from purpose to handler.

`billing` never imports the apps it takes money for. Each registers a handler for its
purpose in its `AppConfig.ready()`:

    from billing.payments import register_payment_handler
    register_payment_handler("order", OrderPaymentHandler())

A handler has `on_succeeded(payment)`, `on_failed(payment)` and `on_refunded(payment)`. Each is
called inside the transaction that changes the `Payment`'s status (webhook, success page or
dev payment mode alike), exactly once per status change; if it raises, the change is rolled
back and the webhook event is marked failed, to be retried on redelivery.
"""

from __future__ import annotations

from typing import Protocol


class PaymentHandler(Protocol):
    def on_succeeded(self, payment) -> None: ...

    def on_failed(self, payment) -> None: ...

    def on_refunded(self, payment) -> None: ...


_handlers: dict[str, PaymentHandler] = {}


def register_payment_handler(purpose: str, handler: PaymentHandler) -> None:
    for name in ("on_succeeded", "on_failed", "on_refunded"):
        if not callable(getattr(handler, name, None)):
            raise TypeError(f"A payment handler needs {name}(payment).")
    _handlers[purpose] = handler


def payment_handler_for(purpose: str) -> PaymentHandler | None:
    return _handlers.get(purpose)

