"""The Grafana dashboard in cluster/ queries only series Vigil exports (Ray prefixes them with `ray_`), so a
renamed metric cannot leave a panel silently empty."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_panel_queries_a_metric_vigil_defines() -> None:
    defined = set(re.findall(r'"(vigil_\w+)"', (ROOT / "tasks" / "prometheus.py").read_text()))
    board = json.loads((ROOT / "cluster" / "grafana-vigil.json").read_text())
    queried = {name for panel in board["panels"] for target in panel["targets"]
               for name in re.findall(r"ray_(vigil_\w+?)(?:_bucket|_count|_sum)?\b", target["expr"])}
    assert len(defined) >= 9 and queried
    assert queried <= defined, f"panels query unknown series: {sorted(queried - defined)}"
    assert defined - queried == set(), f"metrics no panel shows: {sorted(defined - queried)}"
