"""`vigil dispatcher` exits when its dispatcher is gone, so that its supervisor (systemd, a Kubernetes Deployment)
starts another, and keeps waiting while the dispatcher is only slow or being restarted by Ray."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError

from cli.run import watch_dispatcher


def answers(*outcomes: BaseException | None, then: Callable[[], None] | None = None) -> Callable[[], object]:
    """An `ask` that answers (None) or raises each outcome in turn, then answers and calls `then` every time."""
    pending = list(outcomes)

    def ask() -> object:
        if not pending:
            if then is not None:
                then()
            return {}
        outcome = pending.pop(0)
        if outcome is not None:
            raise outcome
        return {}

    return ask


def test_a_lost_cluster_connection_ends_the_watch_with_the_reason() -> None:
    stop = threading.Event()
    ask = answers(None, ConnectionError("Ray client has already been disconnected"))

    assert watch_dispatcher(stop, ask, every=0.001) == "ConnectionError: Ray client has already been disconnected"


def test_a_dead_dispatcher_ends_the_watch() -> None:
    gone = watch_dispatcher(threading.Event(), answers(ActorDiedError()), every=0.001)

    assert gone is not None and gone.startswith("ActorDiedError")


def test_slow_or_restarting_answers_are_waited_out_until_stop() -> None:
    stop = threading.Event()
    # Two unanswered, an answer, two unanswered: never three in a row.
    ask = answers(GetTimeoutError(), ActorUnavailableError("restarting", None), None, GetTimeoutError(),
                  GetTimeoutError(), then=stop.set)

    assert watch_dispatcher(stop, ask, every=0.001, patience=3) is None


def test_too_many_unanswered_asks_in_a_row_count_as_gone() -> None:
    ask = answers(*[GetTimeoutError()] * 3)

    assert watch_dispatcher(threading.Event(), ask, every=0.001, patience=3) == \
        "no answer to 3 asks in a row (GetTimeoutError)"


def test_a_stop_before_the_first_ask_asks_nothing() -> None:
    stop = threading.Event()
    stop.set()

    assert watch_dispatcher(stop, answers(ConnectionError("never asked")), every=60) is None
