"""Provider fan-out: parallel, failures isolated, a breaker that stops calling a failing provider.

The providers here are small in-process stand-ins for a dependency (they fail on purpose); what is
under test is the fan-out and breaker logic. The real clients are tested against their wire-protocol
stand-ins in tests/integration/test_*_contract.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from vigil.breaker import FAIL_MAX
from vigil.errors import PermanentError, TransientError
from vigil.schemas.transcripts import ProviderTranscript, Segment, Word
from vigil.transcription import fanout


class Scripted:
    def __init__(self, name: str, fail_with: Exception | None = None, delay: float = 0.0) -> None:
        self.name = name
        self.fail_with = fail_with
        self.delay = delay
        self.calls = 0
        self.threads: set[int] = set()

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        self.calls += 1
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        if self.fail_with:
            raise self.fail_with
        return ProviderTranscript(provider=self.name, model="scripted", duration=1.0,
                                  words=[Word(text="hello", start=0.0, end=0.5, confidence=0.9)],
                                  segments=[Segment(index=0, start=0.0, end=0.5, text="hello")])


@pytest.fixture(autouse=True)
def fresh_breakers() -> None:
    fanout._breakers.clear()


def test_one_failing_provider_does_not_stop_the_others(tmp_path: Path) -> None:
    good = Scripted("good")
    bad = Scripted("bad", TransientError("503 from provider", code="provider_unavailable"))
    run = fanout.run_providers([bad, good], tmp_path / "a.flac")
    assert [t.provider for t in run.transcripts] == ["good"]
    assert run.failures["bad"].code == "provider_unavailable"
    run.raise_if_all_failed()


def test_providers_run_at_the_same_time(tmp_path: Path) -> None:
    slow = [Scripted(f"p{i}", delay=0.3) for i in range(3)]
    started = time.perf_counter()
    run = fanout.run_providers(slow, tmp_path / "a.flac")
    assert time.perf_counter() - started < 0.6
    assert len(run.transcripts) == 3 and len({t for p in slow for t in p.threads}) == 3


def test_all_failing_with_a_transient_cause_is_transient(tmp_path: Path) -> None:
    run = fanout.run_providers([Scripted("a", TransientError("timeout", code="provider_timeout")),
                                   Scripted("b", PermanentError("bad key", code="provider_auth"))],
                                  tmp_path / "a.flac")
    with pytest.raises(TransientError) as failure:
        run.raise_if_all_failed()
    assert failure.value.code == "all_providers_failed" and "provider_timeout" in failure.value.message


def test_all_failing_permanently_is_permanent(tmp_path: Path) -> None:
    run = fanout.run_providers([Scripted("b", PermanentError("bad audio", code="provider_rejected"))],
                                  tmp_path / "a.flac")
    with pytest.raises(PermanentError):
        run.raise_if_all_failed()


def test_the_breaker_opens_after_repeated_transient_failures_and_skips_the_provider(tmp_path: Path) -> None:
    flaky = Scripted("flaky", TransientError("503", code="provider_unavailable"))
    for _ in range(FAIL_MAX):
        fanout.run_providers([flaky], tmp_path / "a.flac")
    calls = flaky.calls
    run = fanout.run_providers([flaky], tmp_path / "a.flac")
    assert flaky.calls == calls, "an open breaker does not call the provider"
    assert run.failures["flaky"].code == "circuit_open"


def test_permanent_errors_do_not_open_the_breaker(tmp_path: Path) -> None:
    picky = Scripted("picky", PermanentError("unsupported audio", code="provider_rejected"))
    for _ in range(FAIL_MAX + 2):
        run = fanout.run_providers([picky], tmp_path / "a.flac")
    assert run.failures["picky"].code == "provider_rejected"
    assert picky.calls == FAIL_MAX + 2


def test_an_unexpected_exception_counts_as_that_providers_failure(tmp_path: Path) -> None:
    run = fanout.run_providers([Scripted("buggy", KeyError("words")), Scripted("ok")], tmp_path / "a.flac")
    assert run.failures["buggy"].code == "provider_error" and [t.provider for t in run.transcripts] == ["ok"]


def test_calls_to_one_provider_run_concurrently_through_its_breaker(tmp_path: Path) -> None:
    """Chunks and sessions share a provider's breaker; it must not make them wait for each other."""
    from concurrent.futures import ThreadPoolExecutor

    slow = Scripted("slow", delay=0.3)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda _: fanout.run_providers([slow], tmp_path / "a.flac"), range(4)))
    assert time.perf_counter() - started < 0.6
    assert all(run.transcripts for run in runs)


def test_the_breaker_lets_calls_through_again_after_its_reset_time(tmp_path: Path) -> None:
    flaky = Scripted("flaky", TransientError("503", code="provider_unavailable"))
    breaker = fanout.breaker_for("flaky")
    breaker.reset_seconds = 0.1
    for _ in range(FAIL_MAX):
        fanout.run_providers([flaky], tmp_path / "a.flac")
    assert fanout.run_providers([flaky], tmp_path / "a.flac").failures["flaky"].code == "circuit_open"
    time.sleep(0.15)
    flaky.fail_with = None
    assert fanout.run_providers([flaky], tmp_path / "a.flac").transcripts
