"""Choosing the analyzer is configuration (`ANALYZER`), not `if` chains across the code."""

from __future__ import annotations

from collections.abc import Callable

from vigil.analysis.base import Analyzer
from vigil.settings import Settings


def _offline(settings: Settings) -> Analyzer:
    from vigil.analysis.offline import OfflineAnalyzer

    return OfflineAnalyzer()


ANALYZERS: dict[str, Callable[[Settings], Analyzer]] = {"offline": _offline}


def build_analyzer(settings: Settings) -> Analyzer:
    try:
        return ANALYZERS[settings.analyzer](settings)
    except KeyError:
        raise ValueError(f"unknown analyzer {settings.analyzer!r}; known: {sorted(ANALYZERS)}") from None
