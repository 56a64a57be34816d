"""A stand-in for AssemblyAI's v2 REST API, as the `assemblyai` Python SDK speaks it, with scriptable faults.

What the SDK sends (assemblyai 1.8.x): every request carries the key verbatim in `authorization` (no scheme);
`POST /v2/upload` has the raw audio bytes as its body and expects `{"upload_url"}`; `POST /v2/transcript` has
the `TranscriptRequest` as JSON (`audio_url` plus options such as `speaker_labels`) and expects the transcript
object; `GET /v2/transcript/{id}` is polled until `status` is `completed` or `error`. Any status other than
200 becomes a `TranscriptError` carrying the status code and the body's `error` field.

Custom vocabulary travels in the submission as `word_boost` (a list of words and phrases) and `boost_param`
(`low`, `default` or `high`). The stand-in refuses them with 400 as AssemblyAI documents its limits: at most 1,000
entries, each a string of at most 6 words, and `boost_param` only with a word boost and only with those values.

Transcripts say a fixed script: each word lasts WORD_MS, words follow each other every STEP_MS, starting at
LEAD_MS, so a test can state the exact timings it expects. A `timed_script` (words with their own times and
confidences, as a real recognizer heard them) is said instead when it is given.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.standins.loopback import serve_on_loopback

Route = Literal["upload", "submit", "poll"]
LEAD_MS = 500
WORD_MS = 300
STEP_MS = 400
WORD_CONFIDENCE = 0.9
DEFAULT_SCRIPT: tuple[tuple[str, str], ...] = (("A", "hello this is a test"), ("B", "yes it is"))
# (speaker, [(text, start ms, end ms, confidence), ...]) per utterance
TimedScript = Sequence[tuple[str, Sequence[tuple[str, int, int, float]]]]


@dataclass
class _Fault:
    status: int
    remaining: int
    route: Route | None


@dataclass
class _Job:
    request: dict[str, Any]
    polls: int = 0


@dataclass
class AssemblyAIStandin:
    """The server's state and fault script; the app from `build_app` reads them on every request."""

    api_key: str
    script: Sequence[tuple[str, str]] = DEFAULT_SCRIPT
    timed_script: TimedScript | None = None
    processing_polls: int = 1
    delay_seconds: float = 0.0
    transcript_error: str | None = None
    completed_body: str | dict[str, Any] | None = None
    uploads: list[bytes] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _shutting_down: threading.Event = field(default_factory=threading.Event)

    # ------------------------------------------------------------ fault script
    def fail_next(self, count: int, status: int, route: Route | None = None) -> None:
        """Answer the next `count` requests (to `route`, or to any route) with `status`."""
        with self._lock:
            self._faults.append(_Fault(status, count, route))

    def delay_responses(self, seconds: float) -> None:
        self.delay_seconds = seconds

    def finish_transcripts_with_error(self, message: str) -> None:
        self.transcript_error = message

    def complete_transcripts_with(self, body: str | dict[str, Any]) -> None:
        """A finished transcript answers with `body`: raw text as it is (say, not JSON at all), or fields laid
        over the transcript's own (say, a word whose `start` is not a number)."""
        self.completed_body = body

    def keep_transcripts_processing(self) -> None:
        self.processing_polls = 10**9

    # ------------------------------------------------------------ protocol
    def build_app(self) -> FastAPI:
        app = FastAPI()
        app.middleware("http")(self._gate)
        app.post("/v2/upload")(self._upload)
        app.post("/v2/transcript")(self._submit)
        app.get("/v2/transcript/{transcript_id}")(self._poll)
        return app

    async def _gate(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Everything that happens before a route: recording, delay, scripted faults, then the key check."""
        self.requests.append(f"{request.method} {request.url.path}")
        await self._hold(self.delay_seconds)
        if self._shutting_down.is_set():
            return JSONResponse({"error": "the stand-in is stopping"}, status_code=503)
        fault = self._take_fault(_route_of(request))
        if fault is not None:
            return JSONResponse({"error": f"scripted fault {fault}"}, status_code=fault)
        if request.headers.get("authorization") != self.api_key:
            return JSONResponse({"error": "Authentication error, API token missing/invalid"}, status_code=401)
        return await call_next(request)

    async def _hold(self, seconds: float) -> None:
        # In short steps, so that a server being stopped lets held requests go instead of waiting them out.
        until = time.monotonic() + seconds
        while time.monotonic() < until and not self._shutting_down.is_set():
            await asyncio.sleep(0.02)

    def release_held_requests(self) -> None:
        self._shutting_down.set()

    def _take_fault(self, route: Route | None) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.route in (None, route):
                    fault.remaining -= 1
                    return fault.status
        return None

    async def _upload(self, request: Request) -> dict[str, str]:
        self.uploads.append(await request.body())
        return {"upload_url": f"https://cdn.assemblyai.com/upload/{uuid.uuid4()}"}

    async def _submit(self, request: Request) -> Response:
        body = await request.json()
        if not body.get("audio_url"):
            return JSONResponse({"error": "audio_url is required"}, status_code=400)
        if problem := word_boost_problem(body):
            return JSONResponse({"error": problem}, status_code=400)
        self.submissions.append(body)
        transcript_id = str(uuid.uuid4())
        self._jobs[transcript_id] = _Job(request=body)
        return JSONResponse({**body, "id": transcript_id, "status": "queued"})

    async def _poll(self, transcript_id: str) -> Response:
        job = self._jobs.get(transcript_id)
        if job is None:
            return JSONResponse({"error": "Transcript lookup error, transcript id not found"}, status_code=404)
        job.polls += 1
        base = {**job.request, "id": transcript_id}
        if job.polls <= self.processing_polls:
            return JSONResponse({**base, "status": "processing"})
        if self.transcript_error is not None:
            return JSONResponse({**base, "status": "error", "error": self.transcript_error})
        if isinstance(self.completed_body, str):
            return Response(self.completed_body, media_type="application/json")
        said = completed_timed_transcript(self.timed_script) if self.timed_script else completed_transcript(self.script)
        return JSONResponse({**base, **said, **(self.completed_body or {})})


MAX_WORD_BOOST = 1000
MAX_BOOST_WORDS = 6
BOOST_PARAMS = ("low", "default", "high")


def word_boost_problem(body: dict[str, Any]) -> str | None:
    """Why AssemblyAI would refuse this submission's custom vocabulary, or None."""
    boost, param = body.get("word_boost"), body.get("boost_param")
    if boost is not None:
        if not isinstance(boost, list) or not all(isinstance(term, str) for term in boost):
            return "word_boost must be a list of strings"
        if len(boost) > MAX_WORD_BOOST:
            return f"word_boost takes at most {MAX_WORD_BOOST} words and phrases"
        if any(not term.strip() or len(term.split()) > MAX_BOOST_WORDS for term in boost):
            return f"each word_boost phrase must have 1 to {MAX_BOOST_WORDS} words"
    if param is not None and (param not in BOOST_PARAMS or not boost):
        return f"boost_param must be one of {', '.join(BOOST_PARAMS)}, and comes with a word_boost"
    return None


def completed_transcript(script: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The fields of a completed transcript saying `script` ((speaker, text) turns), times in milliseconds."""
    timed, count = [], 0
    for speaker, text in script:
        turn = []
        for token in text.split():
            start = LEAD_MS + STEP_MS * count
            turn.append((token, start, start + WORD_MS, WORD_CONFIDENCE))
            count += 1
        timed.append((speaker, turn))
    return completed_timed_transcript(timed)


def completed_timed_transcript(script: TimedScript) -> dict[str, Any]:
    """The fields of a completed transcript saying `script`, each word at its own times and confidence."""
    words: list[dict[str, Any]] = []
    utterances: list[dict[str, Any]] = []
    for speaker, turn_words in script:
        turn = [{"text": text, "start": start, "end": end, "confidence": confidence, "speaker": speaker}
                for text, start, end, confidence in turn_words]
        words += turn
        utterances.append({"speaker": speaker, "start": turn[0]["start"], "end": turn[-1]["end"],
                           "text": " ".join(w["text"] for w in turn),
                           "confidence": round(sum(w["confidence"] for w in turn) / len(turn), 4), "words": turn})
    confidence = round(sum(w["confidence"] for w in words) / len(words), 4) if words else WORD_CONFIDENCE
    return {"status": "completed", "text": " ".join(u["text"] for u in utterances), "words": words,
            "utterances": utterances, "confidence": confidence, "language_code": "en_us",
            "audio_duration": (words[-1]["end"] // 1000) + 1 if words else 0, "speech_model_used": "universal"}


def _route_of(request: Request) -> Route | None:
    path = request.url.path
    if request.method == "POST" and path == "/v2/upload":
        return "upload"
    if request.method == "POST" and path == "/v2/transcript":
        return "submit"
    if request.method == "GET" and path.startswith("/v2/transcript/"):
        return "poll"
    return None


@contextmanager
def serve_standin(standin: AssemblyAIStandin) -> Iterator[str]:
    """Runs the stand-in under uvicorn on a free 127.0.0.1 port in a background thread; yields its base URL."""
    with serve_on_loopback(standin.build_app()) as base_url:
        try:
            yield base_url
        finally:
            standin.release_held_requests()
