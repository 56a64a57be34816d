"""The dashboard's only door to data: the Vigil API, as the signed-in user. Cached briefly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from vigil.client import ApiError, VigilClient
from vigil.settings import load_settings

__all__ = ["ApiError", "api_url", "client", "me", "sessions", "session", "transcript", "analysis", "audit",
           "audio", "metrics", "reprocess", "submit_review", "token", "sign_out", "forget_transcript", "load_or_stop",
           "replay_runs", "replay_run", "review_facts"]
T = TypeVar("T")


@st.cache_resource
def api_url() -> str:
    return load_settings().base_url


def token() -> str | None:
    return st.session_state.get("token")


@st.cache_resource(max_entries=50)
def _client(base_url: str, api_token: str) -> VigilClient:
    return VigilClient(base_url, api_token, timeout=30)


def client() -> VigilClient:
    api_token = token()
    if not api_token:
        raise ApiError(401, "not signed in")
    return _client(api_url(), api_token)


def sign_out() -> None:
    st.session_state.pop("token", None)
    st.session_state.pop("me", None)
    st.cache_data.clear()


def load_or_stop(call: Callable[[], T], what: str) -> T:
    """A page's essential data, or the API's reason on the page and the page stopped."""
    try:
        return call()
    except ApiError as exc:
        st.error(f"Could not load {what}: {exc.detail}")
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers the function never falls through


def me() -> dict[str, Any]:
    return client().get_json("/api/v1/me")


@st.cache_data(ttl=5, show_spinner=False)
def _sessions(api_token: str, flagged: bool | None, reviewed: bool | None, status: str | None) -> list[dict]:
    return _client(api_url(), api_token).sessions(flagged=flagged, reviewed=reviewed, status=status, limit=1000)


def sessions(flagged: bool | None = None, reviewed: bool | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
    return _sessions(token() or "", flagged, reviewed, status)


def session(session_id: str) -> dict[str, Any]:
    return client().session(session_id)


@st.cache_data(ttl=60, show_spinner=False)
def _transcript(api_token: str, session_id: str) -> dict[str, Any]:
    return _client(api_url(), api_token).transcript(session_id)


def transcript(session_id: str) -> dict[str, Any]:
    return _transcript(token() or "", session_id)


def forget_transcript(session_id: str) -> None:
    """After a speaker correction the cached transcript is stale."""
    _transcript.clear()


def analysis(session_id: str) -> dict[str, Any]:
    return client().analysis(session_id)


def audit(session_id: str) -> list[dict[str, Any]]:
    return client().audit(session_id)


def metrics(session_id: str) -> dict[str, Any]:
    return client().metrics(session_id)


@st.cache_data(ttl=300, show_spinner=False, max_entries=20)
def _audio(api_token: str, session_id: str) -> bytes:
    return _client(api_url(), api_token).audio(session_id)


def audio(session_id: str) -> bytes:
    return _audio(token() or "", session_id)


def reprocess(session_id: str) -> dict[str, Any]:
    result = client().reprocess(session_id)
    _sessions.clear()
    return result


def submit_review(session_id: str, field: str, value: Any, reason: str) -> dict[str, Any]:
    result = client().review(session_id, field, value, reason)
    _sessions.clear()
    return result


def replay_runs() -> list[dict[str, Any]]:
    return client().get_json("/api/v1/replay-runs")


def replay_run(run_id: str) -> dict[str, Any]:
    return client().get_json(f"/api/v1/replay-runs/{run_id}")


@st.cache_data(ttl=10, show_spinner=False)
def _review_facts(api_token: str) -> list[dict[str, Any]]:
    return _client(api_url(), api_token).get_json("/api/v1/analytics/review-facts")


def review_facts() -> list[dict[str, Any]]:
    return _review_facts(token() or "")
