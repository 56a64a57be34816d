"""Alerts on the pages that act on them: a session's alerts with an Acknowledge button (Session page), and dead
deliveries with a Retry button (Jobs page)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import SEVERITY_ICON, plain


def _what(alert: dict[str, Any]) -> str:
    category = "risk analysis failed" if alert["category"] == "unknown" else alert["category"].replace("_", " ")
    return f"{SEVERITY_ICON.get(alert['severity'], '')} {alert['severity']} {category}"


def session_alerts(session_id: str) -> None:
    """Who was alerted about this session, whether anyone acknowledged, and the button that does."""
    try:
        rows = api.alerts(session_id=session_id)
    except api.ApiError:
        return  # a role that may not read alerts sees no section
    if not rows:
        return
    st.subheader("Alerts")
    acknowledged = next((a for a in rows if a["acknowledged_at"]), None)
    for alert in rows:
        kind = "escalation" if alert["escalation"] else "alert"
        st.caption(f"{_what(alert)} · {kind} to {alert['channel']} · {alert['status']}"
                   + (f" after {alert['attempts']} tries" if alert["attempts"] > 1 else ""))
    if acknowledged:
        who = acknowledged["acknowledged_by"] or "through the alert's link"
        st.success(f"Acknowledged {acknowledged['acknowledged_at'][:16].replace('T', ' ')} UTC by {plain(who)}.")
    elif api.can("review"):
        if st.button("Acknowledge alert", key=f"ack_{session_id}", type="primary",
                     help="Tells your team someone is on it, and stops its escalation."):
            try:
                api.acknowledge_alert(rows[0]["id"])
            except api.ApiError as exc:
                st.error(f"Not acknowledged: {plain(exc.detail)}")
            else:
                st.rerun()
    else:
        st.warning("Not acknowledged yet.")


def dead_alerts_panel() -> None:
    """Deliveries that ran out of tries, with their reason, and a Retry button (same delivery id)."""
    try:
        dead = api.alerts(status="dead")
    except api.ApiError:
        return
    if not dead:
        return
    st.subheader(f"Dead alert deliveries ({len(dead)})")
    for alert in dead:
        cols = st.columns([5, 1])
        cols[0].markdown(f"{_what(alert)} · session {alert['session_id'][:8]} · {plain(alert['channel'])} · "
                         f"{alert['attempts']} tries · {plain(alert['last_error'] or '')}")
        if api.can("reprocess") and cols[1].button("Retry", key=f"retry_alert_{alert['id']}"):
            try:
                api.retry_alert(alert["id"])
            except api.ApiError as exc:
                st.error(f"Not retried: {plain(exc.detail)}")
            else:
                st.success("Queued again; the dispatcher sends it within seconds.")
