"""Real-thread races for tests on PostgreSQL."""

import threading
from collections.abc import Callable, Sequence

from django.db import connection


def run_together(calls: Sequence[Callable[[], object]], *, start_timeout: float = 10,
                 join_timeout: float = 60) -> list:
    """Run each call in a thread of its own, all released together by one barrier; return what
    each returned, or the exception it raised, in the order of `calls`. Each thread closes its
    database connection when it is done."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=start_timeout)
            results[index] = call()
        except Exception as exc:  # handed back to the caller, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    return results
