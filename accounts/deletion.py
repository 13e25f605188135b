"""What deleting an account does in the apps above `accounts`.

`accounts` sits at the bottom of the dependency order (accounts ← billing ← pipeline ← catalog,
studio, chat) and never imports those apps. Each app registers, from its `AppConfig.ready()`,
the step that detaches or deletes what it holds of a person; `accounts.services.user_delete`
runs the steps by `order` inside its transaction, then deletes the user (rows that cascade
from the user, such as design sessions, need no step).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DeletionStep:
    order: int  # lower runs first: jobs are cancelled (holds released) before the ledger closes
    name: str
    run: Callable[..., object]  # run(*, user) inside the deletion's transaction


_STEPS: dict[str, DeletionStep] = {}


def user_deletion_step_register(*, name: str, order: int, run: Callable[..., object]) -> None:
    """Registering a name again replaces its step (ready() may run twice in tests)."""
    _STEPS[name] = DeletionStep(order=order, name=name, run=run)


def user_deletion_steps() -> list[DeletionStep]:
    return sorted(_STEPS.values(), key=lambda step: (step.order, step.name))
