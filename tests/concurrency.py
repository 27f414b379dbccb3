"""Running code on several real database connections at the same moment.

For tests marked ``django_db(transaction=True)``: each thread opens its own connection to
the test database, so the database itself (locks, unique constraints) decides the race.
"""

import pkgutil
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

from django.db import connection

BARRIER_TIMEOUT_S = 20


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at once, one thread each; their results or raised exceptions."""
    barrier = threading.Barrier(len(calls), timeout=BARRIER_TIMEOUT_S)
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except BaseException as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * BARRIER_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a racing call never finished"
    return outcomes


def meet_at(target: str, parties: int) -> Any:
    """Patch ``target`` so each racer waits there for the others before going on.

    Placed between a service's "does it exist yet?" read and its write, it makes every racer
    pass the read before any of them writes: the collision the constraint must settle, on
    every run rather than on a lucky one.
    """
    barrier = threading.Barrier(parties, timeout=BARRIER_TIMEOUT_S)
    real = pkgutil.resolve_name(target)
    met = threading.local()

    def call_then_wait(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        # Only a racer's first pass meets the others; later calls (a loser reading the
        # winner's row) go straight through.
        if not getattr(met, "done", False):
            met.done = True
            barrier.wait()
        return result

    return mock.patch(target, side_effect=call_then_wait)
