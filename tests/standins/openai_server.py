"""A stand-in for the OpenAI Chat Completions API (`POST /v1/chat/completions`), as the `openai` SDK speaks it,
with a per-test script of behaviours.

Each request takes the next behaviour off the queue: answer with given content (a dict is sent as JSON text, a
string verbatim, so malformed JSON can be scripted), optionally after a delay (a model's latency), answer with an
HTTP error status, or stall for a while before answering. An empty queue answers 503, so a test that under-scripts
fails loudly. Every request that passed the key check is recorded (model, temperature, messages, response_format).

`response_format` is checked as the real API checks it, before any behaviour is taken off the queue: a
`json_schema` format needs `json_schema.name` (letters, digits, _ and -, up to 64) and `json_schema.schema`, and with
`strict: true` every object in the schema must have `additionalProperties: false` and list every property in
`required`; otherwise 400 with an `invalid_request_error` body. `accepts_json_schema=False` answers every
`json_schema` format 400, as an OpenAI-compatible server without structured outputs (older vLLM, llama.cpp) does.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.standins.loopback import serve_on_loopback


@dataclass
class _Behaviour:
    content: dict[str, Any] | str | None = None
    status: int = 200
    hold_seconds: float = 0.0  # before answering: a reply's latency, or a stall


@dataclass
class OpenAIStandin:
    api_key: str
    accepts_json_schema: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    _script: list[_Behaviour] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _shutting_down: threading.Event = field(default_factory=threading.Event)

    # ------------------------------------------------------------ script
    def reply(self, content: dict[str, Any] | str, times: int = 1, delay_seconds: float = 0.0) -> None:
        """Answer the next request(s) with `content` as the assistant message, each after `delay_seconds`."""
        self._push(_Behaviour(content=content, hold_seconds=delay_seconds), times)

    def fail(self, status: int, times: int = 1) -> None:
        """Answer the next request(s) with an OpenAI-style error body and `status`."""
        self._push(_Behaviour(status=status), times)

    def stall(self, seconds: float, times: int = 1) -> None:
        """Hold the next request(s) for `seconds` (longer than the client's timeout), then answer 503."""
        self._push(_Behaviour(status=503, hold_seconds=seconds), times)

    def _push(self, behaviour: _Behaviour, times: int) -> None:
        with self._lock:
            self._script.extend([behaviour] * times)

    def _next(self) -> _Behaviour:
        with self._lock:
            return self._script.pop(0) if self._script else _Behaviour(status=503)

    def release_held_requests(self) -> None:
        self._shutting_down.set()

    # ------------------------------------------------------------ protocol
    def build_app(self) -> FastAPI:
        app = FastAPI()
        app.post("/v1/chat/completions")(self._complete)
        return app

    async def _complete(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        body = await request.json()
        self.requests.append({"model": body.get("model"), "temperature": body.get("temperature"),
                              "messages": body.get("messages"), "response_format": body.get("response_format")})
        refused = self._refuse_response_format(body.get("response_format"))
        if refused is not None:
            return refused
        behaviour = self._next()
        await self._hold(behaviour.hold_seconds)
        if behaviour.status != 200:
            return _error(behaviour.status, f"scripted status {behaviour.status}", "server_error", None)
        content = behaviour.content if isinstance(behaviour.content, str) else json.dumps(behaviour.content)
        return JSONResponse({
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 45, "total_tokens": 165},
        })

    def _refuse_response_format(self, response_format: Any) -> JSONResponse | None:
        if response_format is None:
            return None
        if not isinstance(response_format, dict):
            return _invalid("Invalid type for 'response_format': expected an object.", "response_format",
                            "invalid_type")
        if response_format.get("type") in ("text", "json_object"):
            return None
        if response_format.get("type") != "json_schema":
            return _invalid(f"Invalid value: '{response_format.get('type')}'. Supported values are: 'text', "
                            "'json_object' and 'json_schema'.", "response_format.type", "invalid_value")
        if not self.accepts_json_schema:  # the words of an older vLLM server
            return _invalid("1 validation error for ChatCompletionRequest\nresponse_format.type\n  Input should be "
                            "'text' or 'json_object'", "response_format.type", None)
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            return _invalid("Missing required parameter: 'response_format.json_schema'.",
                            "response_format.json_schema", "missing_required_parameter")
        name = spec.get("name")
        if not isinstance(name, str):
            return _invalid("Missing required parameter: 'response_format.json_schema.name'.",
                            "response_format.json_schema.name", "missing_required_parameter")
        if not NAME.fullmatch(name):
            return _invalid(f"Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
                            f"string that matches the pattern '{NAME.pattern}'.", "response_format.json_schema.name",
                            "invalid_value")
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            return _invalid("Missing required parameter: 'response_format.json_schema.schema'.",
                            "response_format.json_schema.schema", "missing_required_parameter")
        if spec.get("strict") is True:
            problem = _strict_schema_problem(schema, ())
            if problem is not None:
                return _invalid(f"Invalid schema for response_format '{name}': {problem}", "response_format", None)
        return None

    async def _hold(self, seconds: float) -> None:
        # In short steps, so that stopping the server lets held requests go instead of waiting them out.
        until = time.monotonic() + seconds
        while time.monotonic() < until and not self._shutting_down.is_set():
            await asyncio.sleep(0.02)


NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _strict_schema_problem(node: Any, context: tuple[str, ...]) -> str | None:
    """What strict mode refuses in `node` (the first thing found), or None: an object must be closed with
    `additionalProperties: false` and must list every property in `required`."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            if (problem := _strict_schema_problem(item, (*context, str(index)))) is not None:
                return problem
        return None
    if not isinstance(node, dict):
        return None
    where = f"In context=({', '.join(repr(part) for part in context)})"
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        missing = [name for name in node.get("properties", {}) if name not in node.get("required", [])]
        if missing:
            return f"{where}, 'required' is required to be supplied and to be an array including every key in " \
                   f"properties. Missing '{missing[0]}'."
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            if (problem := _strict_schema_problem(sub, (*context, key, name))) is not None:
                return problem
    for key in ("items", "anyOf"):
        if key in node and (problem := _strict_schema_problem(node[key], (*context, key))) is not None:
            return problem
    return None


def _error(status: int, message: str, kind: str, code: str | None, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status)


def _invalid(message: str, param: str, code: str | None) -> JSONResponse:
    return _error(400, message, "invalid_request_error", code, param)


@contextmanager
def serve_openai_standin(standin: OpenAIStandin) -> Iterator[str]:
    """Runs the stand-in under uvicorn on a free 127.0.0.1 port in a background thread; yields its base URL
    (ending in /v1, as `openai.OpenAI(base_url=...)` expects)."""
    with serve_on_loopback(standin.build_app()) as base_url:
        try:
            yield base_url + "/v1"
        finally:
            standin.release_held_requests()
