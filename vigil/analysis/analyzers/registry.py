"""Choosing the analyzer is configuration (`ANALYZER`), not `if` chains across the code. Each factory imports its
analyzer when called: the OpenAI SDK and the offline models take a second to load, and a process needs one."""

from __future__ import annotations

from collections.abc import Callable

from vigil.analysis.analyzers.base import Analyzer
from vigil.analysis.risk.sentence_risk import SentenceEncoder
from vigil.settings import Settings


def _offline(settings: Settings, encoder: SentenceEncoder | None) -> Analyzer:
    from vigil.analysis.analyzers.offline import OfflineAnalyzer

    return OfflineAnalyzer(encoder)


def _openai(settings: Settings, encoder: SentenceEncoder | None) -> Analyzer:
    """The model chain, then the offline analyzer, so a model outage never leaves a session unanalysed."""
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.analysis.analyzers.openai_analyzer import OpenAIAnalyzer

    if not settings.openai_api_key:
        raise ValueError("ANALYZER=openai needs OPENAI_API_KEY")
    models = [m.strip() for m in settings.openai_models.split(",") if m.strip()]
    return OpenAIAnalyzer(models=models, api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                          timeout_seconds=settings.analysis_timeout_seconds, fallback=OfflineAnalyzer(encoder),
                          prices=settings.openai_prices, structured_outputs=settings.openai_structured_outputs)


ANALYZERS: dict[str, Callable[[Settings, SentenceEncoder | None], Analyzer]] = {
    "offline": _offline, "openai": _openai}


def analyzer_identity(settings: Settings) -> dict[str, object]:
    """What the configured analyzer is, as far as its answers go: its kind, its built-in prompt version, and for
    the model chain its models. Two analyses with the same identity (and inputs) are the same work."""
    if settings.analyzer == "openai":
        from vigil.analysis.analyzers.openai_analyzer import PROMPT_VERSION as OPENAI_PROMPTS

        models = [m.strip() for m in settings.openai_models.split(",") if m.strip()]
        return {"analyzer": "openai", "built_in_prompts": OPENAI_PROMPTS, "models": models}
    from vigil.analysis.analyzers.offline import PROMPT_VERSION as OFFLINE_PROMPTS

    return {"analyzer": settings.analyzer, "built_in_prompts": OFFLINE_PROMPTS}


FREE_ANALYZERS = frozenset({"offline"})  # no model calls, no cost: never held by the budget


def build_analyzer(settings: Settings, encoder: SentenceEncoder | None = None) -> Analyzer:
    """`encoder`: where the sentence model's encoder runs (the Ray Serve deployment, from the analyze stage);
    None runs it in this process."""
    try:
        return ANALYZERS[settings.analyzer](settings, encoder)
    except KeyError:
        raise ValueError(f"unknown analyzer {settings.analyzer!r}; known: {sorted(ANALYZERS)}") from None
