"""Wait for something to happen by polling it, never by sleeping a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long everywhere (a
slow suite). `wait_until` returns as soon as the condition holds and fails with a message when
it never does.
"""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, *, interval: float = 0.05,
               message: str | Callable[[], str] = "") -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Fails with AssertionError after `timeout` seconds (the predicate gets one last call at the
    deadline); `message` (or what calling it returns) says what was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting: {text or predicate!r}")
        time.sleep(interval)
