"""Vigil dashboard entry: sign-in gate and navigation. Pages live in dashboard/pages/."""

from __future__ import annotations

import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain

st.set_page_config(page_title="Vigil", page_icon="🛡️", layout="wide")


def sign_in() -> None:
    st.title("Vigil — sign in")
    st.caption("Paste the API token you were given (`vigil token create`, or printed by `make run`).")
    with st.form("sign_in"):
        entered = st.text_input("API token", type="password", key="token_input")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        st.session_state["token"] = entered.strip()
        try:
            st.session_state["me"] = api.sign_in()
        except api.ApiError as exc:
            api.sign_out()
            st.error(f"Sign-in failed: {plain(exc.detail)}")
            return
        st.rerun()


def pages_for(permissions: set[str]) -> dict[str, list[st.Page]]:
    """What a role sees. The API refuses the rest anyway; hiding it keeps the dashboard honest about the role:
    supervisors review and retry, leads explore analytics and exports, uploaders upload, counselors read their own
    reviewed sessions."""
    sections: dict[str, list[st.Page]] = {}
    reads = "read_content" in permissions
    if "counsel" in permissions:  # a counselor sees nothing but the reviewed results of their own sessions
        sections["My work"] = [st.Page("pages/my_sessions.py", title="My sessions", icon="🗂️",
                                       url_path="my-sessions", default=True)]
    if reads:
        sections["Review"] = [
            st.Page("pages/queue.py", title="Review queue", icon="🚩", url_path="queue", default=True),
            st.Page("pages/session.py", title="Session", icon="🎧", url_path="session"),
            st.Page("pages/disputes.py", title="Disputes", icon="💬", url_path="disputes"),
        ]
        sections["Analytics"] = [
            st.Page("pages/kpis.py", title="KPIs", icon="📊", url_path="kpis"),
            *([st.Page("pages/calibration.py", title="Calibration", icon="🎯", url_path="calibration")]
              if "calibrate" in permissions else []),
            st.Page("pages/latency.py", title="Latency", icon="⏱️", url_path="latency"),
            st.Page("pages/trends.py", title="Quality trends", icon="📈", url_path="trends"),
        ]
    operations = []
    if "reprocess" in permissions:
        operations.append(st.Page("pages/jobs.py", title="Jobs", icon="⚙️", url_path="jobs"))
    if reads:
        operations.append(st.Page("pages/governance.py", title="Governance", icon="🧪", url_path="governance"))
    if "upload" in permissions:
        operations.append(st.Page("pages/upload.py", title="Upload", icon="⬆️", url_path="upload", default=not reads))
    if operations:
        sections["Operations"] = operations
    return sections


if not api.token():
    navigation = st.navigation([st.Page(sign_in, title="Sign in", icon="🔑")])
else:
    if "me" not in st.session_state:
        try:
            st.session_state["me"] = api.me()
        except api.ApiError as exc:
            api.sign_out()
            st.error(f"Your session ended: {plain(exc.detail)}")
            st.stop()
    who = st.session_state["me"]
    with st.sidebar:
        st.write(f"**{who['email']}**  \n{who['role']} · {who['tenant']}")
        if st.button("Sign out"):
            api.sign_out()
            st.rerun()
    navigation = st.navigation(pages_for(set(who["permissions"])))
navigation.run()
