"""Every telemetry event, emitted through `RayTelemetry` inside a Ray worker, reaches Ray's Prometheus endpoint as
a `ray_vigil_*` series with its tags: a metric whose tag keys do not match what the domain passes would raise in
the worker (inside a provider's error path, replacing the error), and a metric never exported leaves a Grafana
panel empty."""

from __future__ import annotations

import pytest

from tests.conftest import scrape_ray_metrics
from vigil.services.slo_metrics import live_objectives

pytestmark = pytest.mark.ray

EXPECTED = ['ray_vigil_api_request_seconds_count{', 'route="/probe"', 'ray_vigil_stage_seconds_count{',
            'ray_vigil_stage_failures_total{', 'code="probe_code"', 'ray_vigil_jobs_waiting{',
            'ray_vigil_jobs_in_flight{', 'ray_vigil_provider_seconds_count{', 'provider="probe-speech"',
            'ray_vigil_parse_errors_total{', 'source="speech"', 'source="model"', 'provider="probe-model"',
            'ray_vigil_model_calls_total{', 'ray_vigil_model_tokens_total{', 'ray_vigil_model_cost_usd_total{']


def test_every_event_reaches_rays_prometheus_endpoint_with_its_tags(ray_runtime: None) -> None:
    import ray

    @ray.remote(num_cpus=0)
    def emit_each_event() -> None:
        from vigil import telemetry

        events = telemetry.current()
        events.api_request("GET", "/probe", 200, 0.01)
        events.stage_finished("probe", "done", 1.0)
        events.stage_failed("probe", "probe_code")
        events.jobs_waiting("probe", 3)
        events.jobs_in_flight("probe", 1)
        events.provider_call("probe-speech", "provider_invalid_output", 0.5)
        events.parse_error("speech", "probe-speech")
        events.parse_error("model", "probe-model")
        events.model_call("probe-model", "ok", 10, 5, 0.001)

    ray.get(emit_each_event.remote())  # the worker's setup hook installed RayTelemetry; a bad tag raises here
    text = scrape_ray_metrics(EXPECTED)
    assert [w for w in EXPECTED if w not in text] == []
    parse_lines = [line for line in text.splitlines() if line.startswith("ray_vigil_parse_errors_total{")]
    assert any('source="speech"' in line and 'provider="probe-speech"' in line and line.endswith(" 1.0")
               for line in parse_lines), parse_lines
    # `vigil slo --metrics-url` reads this very exposition: it finds the histogram's buckets and the outcomes.
    live = live_objectives([text])
    assert live.api_requests >= 1 and live.api_p95_seconds is not None and live.stage_attempts >= 1
