"""A stand-in for Google Cloud Speech-to-Text v1 over gRPC, as `google-cloud-speech` speaks it, with
scriptable faults.

What the client sends (google-cloud-speech 2.x): `/google.cloud.speech.v1.Speech/LongRunningRecognize` with a
`LongRunningRecognizeRequest` (config plus inline audio), answered by a `google.longrunning.Operation`; the
client then polls `/google.longrunning.Operations/GetOperation` on the same channel until `done`, and unpacks
`Operation.response` (an Any holding a `LongRunningRecognizeResponse`) or raises from `Operation.error`.

Custom vocabulary travels in `RecognitionConfig.speech_contexts` (speech adaptation phrases with a boost). The
stand-in refuses them with INVALID_ARGUMENT as Google documents the limits of v1: at most 5,000 phrases and 100,000
characters in a request, each phrase at most 100 characters, a boost from 0 to 20.

Transcripts are built from the test's own words the way Google builds them with diarization on: one result
per speaker turn (words untagged), then a last result whose top alternative repeats every word with its
speaker tag and has no transcript of its own.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import grpc
from google.cloud import speech_v1
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2

Method = Literal["Recognize", "LongRunningRecognize", "GetOperation"]
SPEECH_SERVICE = "google.cloud.speech.v1.Speech"
OPERATIONS_SERVICE = "google.longrunning.Operations"


@dataclass(frozen=True)
class SpokenWord:
    text: str
    start: float
    end: float
    confidence: float
    speaker: int


DEFAULT_WORDS: tuple[SpokenWord, ...] = (
    SpokenWord("How", 0.5, 0.8, 0.95, 1), SpokenWord("are", 0.8, 1.0, 0.9, 1),
    SpokenWord("you", 1.0, 1.2, 0.875, 1), SpokenWord("feeling?", 1.2, 1.7, 0.8, 1),
    SpokenWord("Not", 2.5, 2.75, 0.7, 2), SpokenWord("great.", 2.75, 3.25, 0.625, 2),
)


@dataclass
class _Fault:
    method: Method | None
    code: grpc.StatusCode
    message: str
    remaining: int


@dataclass
class _Operation:
    running_polls_left: int
    outcome: speech_v1.LongRunningRecognizeResponse | status_pb2.Status


@dataclass
class GoogleSpeechStandin:
    """The server's state and fault script; the gRPC handlers read them on every call."""

    words: Sequence[SpokenWord] = DEFAULT_WORDS
    pending_polls: int = 0
    operation_error: status_pb2.Status | None = None
    result_type_url: str | None = None
    requests: list[speech_v1.LongRunningRecognizeRequest | speech_v1.RecognizeRequest] = field(default_factory=list)
    calls: list[Method] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _delays: dict[Method, float] = field(default_factory=dict)
    _operations: dict[str, _Operation] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ fault script
    def fail_next(self, count: int, code: grpc.StatusCode, message: str = "stand-in fault",
                  method: Method | None = None) -> None:
        """Abort the next `count` calls (to `method`, or to any method) with `code`."""
        with self._lock:
            self._faults.append(_Fault(method, code, message, count))

    def delay(self, method: Method, seconds: float) -> None:
        """Answer `method` only after `seconds`, or give up early once the caller has gone."""
        self._delays[method] = seconds

    def keep_operations_running(self, polls: int) -> None:
        """New operations start not done and answer `polls` GetOperation calls so; the next finds them done."""
        self.pending_polls = polls

    def finish_operations_with_error(self, code: grpc.StatusCode, message: str) -> None:
        self.operation_error = status_pb2.Status(code=code.value[0], message=message)

    def label_results_as(self, type_url: str) -> None:
        """Finished operations carry their result under another message type's name, as a server with a
        mismatched API version would."""
        self.result_type_url = type_url

    # ------------------------------------------------------------ handlers
    def recognize(self, request: speech_v1.RecognizeRequest, context: grpc.ServicerContext
                  ) -> speech_v1.RecognizeResponse:
        self._enter("Recognize", context)
        self.requests.append(request)
        return speech_v1.RecognizeResponse(results=self._results(), total_billed_time=self._billed())

    def long_running_recognize(self, request: speech_v1.LongRunningRecognizeRequest,
                               context: grpc.ServicerContext) -> operations_pb2.Operation:
        self._enter("LongRunningRecognize", context)
        self.requests.append(request)
        if problem := speech_context_problem(request.config):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        name = str(next(self._ids))
        outcome = self.operation_error or speech_v1.LongRunningRecognizeResponse(
            results=self._results(), total_billed_time=self._billed(), request_id=int(name))
        with self._lock:
            self._operations[name] = _Operation(self.pending_polls, outcome)
        return self._operation_message(name, running=self.pending_polls > 0)

    def get_operation(self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
                      ) -> operations_pb2.Operation:
        self._enter("GetOperation", context)
        with self._lock:
            operation = self._operations.get(request.name)
            if operation is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
            running = operation.running_polls_left > 0
            if running:
                operation.running_polls_left -= 1
        return self._operation_message(request.name, running=running)

    def _enter(self, method: Method, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls.append(method)
            fault = next((f for f in self._faults if f.remaining > 0 and f.method in (None, method)), None)
            if fault:
                fault.remaining -= 1
        if fault:
            context.abort(fault.code, fault.message)
        until = time.monotonic() + self._delays.get(method, 0.0)
        while time.monotonic() < until and context.is_active():
            time.sleep(0.02)

    # ------------------------------------------------------------ messages
    def _operation_message(self, name: str, running: bool) -> operations_pb2.Operation:
        operation = self._operations[name]
        message = operations_pb2.Operation(name=name, done=not running)
        message.metadata.Pack(speech_v1.LongRunningRecognizeMetadata.pb(
            speech_v1.LongRunningRecognizeMetadata(progress_percent=50 if running else 100)))
        if running:
            return message
        if isinstance(operation.outcome, status_pb2.Status):
            message.error.CopyFrom(operation.outcome)
        else:
            response = any_pb2.Any()
            response.Pack(speech_v1.LongRunningRecognizeResponse.pb(operation.outcome))
            if self.result_type_url:
                response.type_url = self.result_type_url
            message.response.CopyFrom(response)
        return message

    def _results(self) -> list[speech_v1.SpeechRecognitionResult]:
        turns = [list(turn) for _, turn in itertools.groupby(self.words, key=lambda w: w.speaker)]
        results = [
            speech_v1.SpeechRecognitionResult(
                alternatives=[speech_v1.SpeechRecognitionAlternative(
                    transcript=" ".join(w.text for w in turn),
                    confidence=min(w.confidence for w in turn),
                    words=[_word_info(w, tagged=False) for w in turn])],
                result_end_time=timedelta(seconds=turn[-1].end), language_code="en-us")
            for turn in turns
        ]
        speaker_track = speech_v1.SpeechRecognitionResult(
            alternatives=[speech_v1.SpeechRecognitionAlternative(
                words=[_word_info(w, tagged=True) for w in self.words])],
            result_end_time=timedelta(seconds=self.words[-1].end if self.words else 0), language_code="en-us")
        return [*results, speaker_track]

    def _billed(self) -> timedelta:
        return timedelta(seconds=int(self.words[-1].end) + 1 if self.words else 0)


MAX_PHRASES = 5000
MAX_PHRASE_CHARACTERS = 100
MAX_TOTAL_CHARACTERS = 100_000
MAX_BOOST = 20.0


def speech_context_problem(config: speech_v1.RecognitionConfig) -> str | None:
    """Why Google would refuse this config's speech contexts, or None."""
    phrases = [phrase for context in config.speech_contexts for phrase in context.phrases]
    if len(phrases) > MAX_PHRASES:
        return f"speech_contexts: at most {MAX_PHRASES} phrases per request"
    if sum(len(phrase) for phrase in phrases) > MAX_TOTAL_CHARACTERS:
        return f"speech_contexts: at most {MAX_TOTAL_CHARACTERS} characters per request"
    if any(not phrase.strip() or len(phrase) > MAX_PHRASE_CHARACTERS for phrase in phrases):
        return f"speech_contexts: a phrase has 1 to {MAX_PHRASE_CHARACTERS} characters"
    if any(not 0 <= context.boost <= MAX_BOOST for context in config.speech_contexts):
        return f"speech_contexts: boost must be between 0 and {MAX_BOOST:g}"
    return None


def _word_info(word: SpokenWord, tagged: bool) -> speech_v1.WordInfo:
    return speech_v1.WordInfo(word=word.text, start_time=timedelta(seconds=word.start),
                              end_time=timedelta(seconds=word.end), confidence=word.confidence,
                              speaker_tag=word.speaker if tagged else 0)


def _handler(behaviour: Callable[[Any, grpc.ServicerContext], Any], deserialize: Callable[[bytes], Any],
             serialize: Callable[[Any], bytes]) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=deserialize,
                                               response_serializer=serialize)


@contextmanager
def running_standin(standin: GoogleSpeechStandin) -> Iterator[str]:
    """Serve `standin` on 127.0.0.1 at a free port; yields its `host:port` endpoint."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    serialize_operation = operations_pb2.Operation.SerializeToString
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(SPEECH_SERVICE, {
            "Recognize": _handler(standin.recognize, speech_v1.RecognizeRequest.deserialize,
                                  speech_v1.RecognizeResponse.serialize),
            "LongRunningRecognize": _handler(standin.long_running_recognize,
                                             speech_v1.LongRunningRecognizeRequest.deserialize, serialize_operation),
        }),
        grpc.method_handlers_generic_handler(OPERATIONS_SERVICE, {
            "GetOperation": _handler(standin.get_operation, operations_pb2.GetOperationRequest.FromString,
                                     serialize_operation),
        }),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()
