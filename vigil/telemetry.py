"""Application metrics, behind a small seam so the domain does not import Ray.

The domain calls `telemetry.current().<event>(...)`; a process running on Ray installs the implementation that
turns events into `ray.util.metrics` series (tasks/prometheus.py), exported by Ray's Prometheus endpoint beside
Ray's own metrics. Everywhere else (tests, the CLI) events go nowhere.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    def api_request(self, method: str, route: str, status: int, seconds: float) -> None: ...
    def stage_finished(self, stage: str, outcome: str, seconds: float) -> None: ...
    def stage_failed(self, stage: str, code: str) -> None: ...
    def jobs_waiting(self, stage: str, count: int) -> None: ...
    def jobs_in_flight(self, stage: str, count: int) -> None: ...
    def provider_call(self, provider: str, outcome: str, seconds: float) -> None: ...
    def parse_error(self, source: str, provider: str) -> None: ...
    def model_call(self, model: str, outcome: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None: ...


class NoTelemetry:
    def api_request(self, method: str, route: str, status: int, seconds: float) -> None:
        pass

    def stage_finished(self, stage: str, outcome: str, seconds: float) -> None:
        pass

    def stage_failed(self, stage: str, code: str) -> None:
        pass

    def jobs_waiting(self, stage: str, count: int) -> None:
        pass

    def jobs_in_flight(self, stage: str, count: int) -> None:
        pass

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        pass

    def parse_error(self, source: str, provider: str) -> None:
        pass

    def model_call(self, model: str, outcome: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        pass


_current: Telemetry = NoTelemetry()


def install(telemetry: Telemetry) -> None:
    global _current
    _current = telemetry


def current() -> Telemetry:
    return _current
