"""The objectives that Vigil's live metrics can answer, read from Prometheus text exposition (a Ray node's metrics
port, or several): API latency p95 from the `vigil_api_request_seconds` histogram and task success from the
`vigil_stage_seconds` counts by outcome. Counters run from each exporting process's start, so these are "since the
processes started", beside the database's windowed values (vigil.services.slo)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

# Ray exports application metrics with its own prefix.
API_SECONDS = "ray_vigil_api_request_seconds"
STAGE_SECONDS = "ray_vigil_stage_seconds"


@dataclass(frozen=True)
class LiveObjectives:
    api_p95_seconds: float | None
    api_requests: int
    task_success_rate: float | None
    stage_attempts: int


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """PromQL's histogram_quantile over cumulative bucket counts ({upper bound: count}): linear within the bucket
    holding the rank; a rank in the +Inf bucket answers the highest finite bound."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] == 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below) if count > below else bound
        lower, below = bound, count
    return lower


def live_objectives(expositions: Iterable[str]) -> LiveObjectives:
    """Sums every label set (routes, statuses, nodes) of each series over all the given expositions."""
    buckets: dict[float, float] = defaultdict(float)
    outcomes: dict[str, float] = defaultdict(float)
    for text in expositions:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == f"{API_SECONDS}_bucket":
                    buckets[float(sample.labels["le"])] += sample.value
                elif sample.name == f"{STAGE_SECONDS}_count":
                    outcomes[sample.labels.get("outcome", "")] += sample.value
    attempts = outcomes["done"] + outcomes["failed"]  # a deferral is neither: it waits without spending an attempt
    return LiveObjectives(
        api_p95_seconds=histogram_quantile(0.95, dict(buckets)),
        api_requests=int(buckets.get(math.inf, 0)),
        task_success_rate=outcomes["done"] / attempts if attempts else None,
        stage_attempts=int(attempts))
