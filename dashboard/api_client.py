"""The dashboard's only door to data: the Vigil API, as the signed-in user. Cached briefly."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl
import streamlit as st

from dashboard.formatting import plain
from dashboard.kpis import facts_frame_from_json, load_test_sessions
from vigil.client import ApiError, VigilClient

__all__ = ["ApiError", "api_url", "client", "me", "session", "transcript", "analysis", "audit",
           "audio", "metrics", "reprocess", "submit_review", "token", "sign_out", "forget_transcript", "load_or_stop",
           "replay_runs", "replay_run", "review_facts", "queue", "queue_summary", "jobs", "job_counts", "stage_timings",
           "request_timings", "config_versions", "activate_version", "upload", "can", "sign_in", "record_export",
           "alerts", "acknowledge_alert", "retry_alert", "refresh_seconds", "agreement", "double_review",
           "save_double_review", "adjudicate", "my_sessions", "my_session", "acknowledge_review", "dispute",
           "disputes", "resolve_dispute", "calibration_sheet", "save_calibration_sheet", "gold", "mark_gold",
           "calibration_rounds", "create_calibration_round", "human_scores"]
T = TypeVar("T")


DEFAULT_API_URL = "http://127.0.0.1:8000"  # where `vigil up` serves the API (API_HOST, API_PORT)
DEFAULT_REFRESH_SECONDS = 5.0  # Settings.dashboard_refresh_seconds


def api_url() -> str:
    """The one setting the dashboard needs: where the API is (`API_URL`; `vigil up` sets it for the dashboard it
    starts). Read on every call, so a process serving several apps (tests) never talks to a stale address."""
    return os.environ.get("API_URL") or DEFAULT_API_URL


def refresh_seconds() -> float:
    """How often the self-refreshing tables (queue, jobs) reload: `DASHBOARD_REFRESH_SECONDS`, which `vigil up` sets
    from its settings for the dashboard it starts."""
    return float(os.environ.get("DASHBOARD_REFRESH_SECONDS") or DEFAULT_REFRESH_SECONDS)


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
        st.error(f"Could not load {what}: {plain(exc.detail)}")
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers the function never falls through


def facts_or_stop() -> pl.DataFrame:
    """The review facts for a page of figures, with a warning above them when load-test sessions are among them."""
    facts = load_or_stop(review_facts, "review facts")
    if count := load_test_sessions(facts):
        st.warning(f"{count} of these sessions were transcribed by the load-test `standin` provider: their "
                   "transcripts are not what was said, and their figures mean nothing.")
    return facts


def me() -> dict[str, Any]:
    return client().get_json("/api/v1/me")


def sign_in() -> dict[str, Any]:
    """Who the token belongs to, recorded in the audit log as a dashboard sign-in."""
    return client().post_json("/api/v1/sign-in?client=dashboard", None)


def record_export(table: str, rows: int, kind: str) -> None:
    """Audit a download (called by each download button when clicked); a failure to record never blocks it."""
    try:
        client().post_json("/api/v1/exports", {"table": table, "rows": rows, "format": kind})
    except ApiError:
        pass


def can(permission: str) -> bool:
    """Whether the signed-in user's role may do this (the API decides; the dashboard only hides what it refuses)."""
    return permission in st.session_state.get("me", {}).get("permissions", [])


def _params(filters: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Filters as a hashable cache key, without the unset ones."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in filters.items()
                        if v not in (None, "", [], ())))


def _query(params: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A cache key from `_params` back to query parameters (tuples were lists: repeated parameters)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params}


@st.cache_data(ttl=5, show_spinner=False)
def _queue(api_token: str, params: tuple[tuple[str, Any], ...], limit: int, order: str) -> list[dict]:
    return _client(api_url(), api_token).sessions(order=order, limit=limit, **_query(params))


def queue(limit: int = 500, order: str = "queue", **filters: Any) -> list[dict[str, Any]]:
    """Sessions in queue order (awaiting review first, by severity then age), filtered by the API;
    `order="newest"` for plain recency."""
    return _queue(token() or "", _params(filters), limit, order)


@st.cache_data(ttl=5, show_spinner=False)
def _queue_summary(api_token: str, params: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return _client(api_url(), api_token).get_json("/api/v1/sessions/summary", **_query(params))


def queue_summary(**filters: Any) -> dict[str, Any]:
    return _queue_summary(token() or "", _params(filters))


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


def redactions(session_id: str, reveal: bool = False) -> list[dict[str, Any]]:
    """The transcript's redactions; `reveal` (reviewers) includes the hidden words and is audited by the API."""
    return client().get_json(f"/api/v1/sessions/{session_id}/redactions", reveal=str(reveal).lower())


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


def _forget_lists() -> None:
    """After a change, lists and counts must not show the old state for their time-to-live."""
    for cached in (_queue, _queue_summary, _review_facts, _jobs, _job_counts):
        cached.clear()


def reprocess(session_id: str) -> dict[str, Any]:
    result = client().reprocess(session_id)
    _forget_lists()
    return result


def submit_review(session_id: str, field: str, value: Any, reason: str) -> dict[str, Any]:
    result = client().review(session_id, field, value, reason)
    _forget_lists()
    return result


def upload(name: str, data: bytes, title: str | None, counselor: str | None, team: str | None) -> dict[str, Any]:
    result = client().upload_stream(name, data, title=title, counselor=counselor, team=team)
    _forget_lists()
    return result


def replay_runs() -> list[dict[str, Any]]:
    return client().get_json("/api/v1/replay-runs")


def replay_run(run_id: str) -> dict[str, Any]:
    return client().get_json(f"/api/v1/replay-runs/{run_id}")


@st.cache_data(ttl=10, show_spinner=False)
def _review_facts(api_token: str) -> pl.DataFrame:
    return facts_frame_from_json(_client(api_url(), api_token).get_bytes("/api/v1/analytics/review-facts"))


def review_facts() -> pl.DataFrame:
    """One row per session (see `dashboard.kpis.SCHEMA`), as a typed polars frame; the frame itself is cached."""
    return _review_facts(token() or "")


@st.cache_data(ttl=5, show_spinner=False)  # the Jobs page refreshes itself
def _jobs(api_token: str, status: str | None) -> list[dict[str, Any]]:
    params = {"status": status} if status else {}
    return _client(api_url(), api_token).get_json("/api/v1/jobs", limit=1000, **params)


def jobs(status: str | None = None) -> list[dict[str, Any]]:
    return _jobs(token() or "", status)


@st.cache_data(ttl=5, show_spinner=False)  # the Jobs page refreshes itself
def _job_counts(api_token: str) -> list[dict[str, Any]]:
    return _client(api_url(), api_token).get_json("/api/v1/jobs/counts")


def job_counts() -> list[dict[str, Any]]:
    return _job_counts(token() or "")


@st.cache_data(ttl=30, show_spinner=False)
def _stage_timings(api_token: str, since: str | None) -> list[dict[str, Any]]:
    return _client(api_url(), api_token).get_json("/api/v1/analytics/stage-timings",
                                                  **({"since": since} if since else {}))


def stage_timings(since: str | None = None) -> list[dict[str, Any]]:
    return _stage_timings(token() or "", since)


@st.cache_data(ttl=30, show_spinner=False)
def _request_timings(api_token: str, since: str | None) -> list[dict[str, Any]]:
    return _client(api_url(), api_token).get_json("/api/v1/analytics/request-timings",
                                                  **({"since": since} if since else {}))


def request_timings(since: str | None = None) -> list[dict[str, Any]]:
    return _request_timings(token() or "", since)


def config_versions() -> list[dict[str, Any]]:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().get_json(f"/api/v1/tenants/{tenant_id}/config-versions")


def activate_version(kind: str, version: str | None) -> dict[str, Any] | None:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().put_json(f"/api/v1/tenants/{tenant_id}/config-versions/{kind}/active", {"version": version})


def alerts(status: str | None = None, session_id: str | None = None) -> list[dict[str, Any]]:
    """Alert deliveries (uncached: acknowledging or retrying shows at once)."""
    return client().get_json("/api/v1/alerts", status=status, session_id=session_id, limit=200)


def acknowledge_alert(alert_id: str) -> dict[str, Any]:
    return client().post_json(f"/api/v1/alerts/{alert_id}/acknowledge", None)


def retry_alert(alert_id: str) -> dict[str, Any]:
    return client().post_json(f"/api/v1/alerts/{alert_id}/retry", None)


@st.cache_data(ttl=30, show_spinner=False)
def _agreement(api_token: str, field: str | None) -> dict[str, Any]:
    return _client(api_url(), api_token).get_json("/api/v1/analytics/agreement", field=field)


def agreement(field: str | None = None) -> dict[str, Any]:
    return _agreement(token() or "", field)


def double_review(session_id: str) -> dict[str, Any]:
    return client().get_json(f"/api/v1/sessions/{session_id}/double-review")


def save_double_review(session_id: str, answers: dict[str, Any], note: str | None, submit: bool) -> dict[str, Any]:
    result = client().put_json(f"/api/v1/sessions/{session_id}/double-review",
                               {"answers": answers, "note": note, "submit": submit})
    _forget_lists()
    return result


def adjudicate(session_id: str, field: str, value: Any, reason: str) -> dict[str, Any]:
    result = client().post_json(f"/api/v1/sessions/{session_id}/adjudications",
                                {"field": field, "value": value, "reason": reason})
    _forget_lists()
    return result


# The counselor's voice: a counselor's own reviewed sessions, and the disputes a supervisor resolves. Uncached: an
# acknowledgement, a dispute or a resolution shows at once.
def my_sessions() -> list[dict[str, Any]]:
    return client().get_json("/api/v1/me/sessions")


def my_session(session_id: str) -> dict[str, Any]:
    return client().get_json(f"/api/v1/me/sessions/{session_id}")


def acknowledge_review(session_id: str) -> dict[str, Any]:
    return client().post_json(f"/api/v1/me/sessions/{session_id}/acknowledge", None)


def dispute(session_id: str, field: str, note: str) -> dict[str, Any]:
    return client().post_json(f"/api/v1/me/sessions/{session_id}/disputes", {"field": field, "note": note})


def disputes(status: str | None = None) -> list[dict[str, Any]]:
    return client().get_json("/api/v1/disputes", status=status)


def resolve_dispute(dispute_id: str, outcome: str, reason: str, value: Any = None) -> dict[str, Any]:
    result = client().post_json(f"/api/v1/disputes/{dispute_id}/resolve",
                                {"outcome": outcome, "reason": reason, "value": value})
    if outcome == "changed":
        _forget_lists()  # a change is a review: the queue's reviewed state and the facts move
    return result


def calibration_sheet(session_id: str) -> dict[str, Any]:
    return client().get_json(f"/api/v1/sessions/{session_id}/calibration")


def save_calibration_sheet(session_id: str, answers: dict[str, Any], note: str | None,
                           submit: bool) -> dict[str, Any]:
    return client().put_json(f"/api/v1/sessions/{session_id}/calibration",
                             {"answers": answers, "note": note, "submit": submit})


def gold() -> list[dict[str, Any]]:
    return client().get_json("/api/v1/gold")


def mark_gold(session_id: str, note: str | None) -> dict[str, Any]:
    return client().post_json(f"/api/v1/sessions/{session_id}/gold", {"note": note})


def calibration_rounds() -> list[dict[str, Any]]:
    return client().get_json("/api/v1/calibration-rounds")


def create_calibration_round(name: str, session_ids: list[str], reviewer_emails: list[str]) -> dict[str, Any]:
    return client().post_json("/api/v1/calibration-rounds", {"name": name, "session_ids": session_ids,
                                                             "reviewer_emails": reviewer_emails})


def human_scores() -> pl.DataFrame:
    """Every human score and comment (uncached: the API audits each export)."""
    body = client().get_bytes("/api/v1/analytics/human-scores", format="json")
    return pl.read_json(body) if body.strip() not in (b"", b"[]") else pl.DataFrame()


def speaker_settings() -> dict[str, Any]:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().get_json(f"/api/v1/tenants/{tenant_id}/speakers")


def set_first_speaker(first_speaker: str | None) -> dict[str, Any]:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().put_json(f"/api/v1/tenants/{tenant_id}/speakers", {"first_speaker": first_speaker})


def vocabulary() -> list[str]:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().get_json(f"/api/v1/tenants/{tenant_id}/vocabulary")["terms"]


def set_vocabulary(terms: list[str]) -> list[str]:
    tenant_id = st.session_state["me"]["tenant_id"]
    return client().put_json(f"/api/v1/tenants/{tenant_id}/vocabulary", {"terms": terms})["terms"]
