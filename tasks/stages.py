"""Ray adapters over the plain stage functions in vigil.services.pipeline.

`max_retries=0`: retries belong to the job rows in the database (with backoff and a record of each
attempt), not to Ray, so a stage is never re-run behind the database's back."""

from __future__ import annotations

import ray

from vigil.analysis.registry import build_analyzer
from vigil.context import Context
from vigil.services.jobs import ClaimedStage
from vigil.services.pipeline import run_analyze, run_extract, run_transcribe
from vigil.settings import Settings
from vigil.transcription.base import build_transcriber


@ray.remote(num_cpus=1, max_retries=0)
def extract_audio(settings: Settings, database_url: str, claim: ClaimedStage) -> None:
    run_extract(Context.build(settings, database_url), claim)


@ray.remote(num_cpus=0.5, max_retries=0)
def analyze(settings: Settings, database_url: str, claim: ClaimedStage) -> None:
    run_analyze(Context.build(settings, database_url), claim, build_analyzer(settings))


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)
class Transcription:
    """Holds the speech models in memory so each session does not pay to load them."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.ctx = Context.build(settings, database_url)
        self.transcribers = [build_transcriber(name, settings) for name in settings.transcriber_names]

    def transcribe(self, claim: ClaimedStage) -> None:
        run_transcribe(self.ctx, claim, self.transcribers)
