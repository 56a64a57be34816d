"""Vigil's metrics as `ray.util.metrics` series (prefix `vigil_`), exported through Ray's Prometheus endpoint on
every node, so they appear in the Ray dashboard's Metrics view and in Grafana (cluster/grafana-vigil.json) next
to Ray's own. Installed in every Ray worker process by `setup_worker_process`."""

from __future__ import annotations

from ray.util.metrics import Counter, Gauge, Histogram

from vigil import telemetry
from vigil.logcontext import configure_logging

# Seconds: API calls are milliseconds to seconds; stages are seconds to tens of minutes.
API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
STAGE_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]


class RayTelemetry:
    def __init__(self) -> None:
        self.api_seconds = Histogram("vigil_api_request_seconds", "API request latency by route template.",
                                     boundaries=API_BUCKETS, tag_keys=("method", "route", "status"))
        self.stage_seconds = Histogram("vigil_stage_seconds", "Stage duration by outcome (done, failed, deferred).",
                                       boundaries=STAGE_BUCKETS, tag_keys=("stage", "outcome"))
        self.stage_failures = Counter("vigil_stage_failures_total", "Failed stage attempts by error code.",
                                      tag_keys=("stage", "code"))
        self.waiting = Gauge("vigil_jobs_waiting", "Runnable stages waiting in the database.", tag_keys=("stage",))
        self.in_flight = Gauge("vigil_jobs_in_flight", "Stages the dispatcher is running.", tag_keys=("stage",))
        self.provider_seconds = Histogram("vigil_provider_seconds", "Speech provider call latency by outcome.",
                                          boundaries=STAGE_BUCKETS, tag_keys=("provider", "outcome"))
        self.parse_errors = Counter("vigil_parse_errors_total", "Provider answers that broke their documented shape, "
                                    "by source (speech, model) and provider (a speech provider, a model).",
                                    tag_keys=("source", "provider"))
        self.model_calls = Counter("vigil_model_calls_total", "Analysis model calls by outcome (ok, invalid_output, "
                                   "transport).", tag_keys=("model", "outcome"))
        self.tokens = Counter("vigil_model_tokens_total", "Model tokens by direction.", tag_keys=("model", "direction"))
        self.cost = Counter("vigil_model_cost_usd_total", "Model spend in USD.", tag_keys=("model",))

    def api_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.api_seconds.observe(seconds, {"method": method, "route": route, "status": str(status)})

    def stage_finished(self, stage: str, outcome: str, seconds: float) -> None:
        self.stage_seconds.observe(seconds, {"stage": stage, "outcome": outcome})

    def stage_failed(self, stage: str, code: str) -> None:
        self.stage_failures.inc(1, {"stage": stage, "code": code})

    def jobs_waiting(self, stage: str, count: int) -> None:
        self.waiting.set(count, {"stage": stage})

    def jobs_in_flight(self, stage: str, count: int) -> None:
        self.in_flight.set(count, {"stage": stage})

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        self.provider_seconds.observe(seconds, {"provider": provider, "outcome": outcome})

    def parse_error(self, source: str, provider: str) -> None:
        self.parse_errors.inc(1, {"source": source, "provider": provider})

    def model_call(self, model: str, outcome: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        self.model_calls.inc(1, {"model": model, "outcome": outcome})
        if tokens_in:
            self.tokens.inc(tokens_in, {"model": model, "direction": "in"})
        if tokens_out:
            self.tokens.inc(tokens_out, {"model": model, "direction": "out"})
        if cost_usd:
            self.cost.inc(cost_usd, {"model": model})


def setup_worker_process() -> None:
    """Ray's worker_process_setup_hook: JSON logs with the bound ids, and Vigil's metrics."""
    configure_logging()
    telemetry.install(RayTelemetry())
