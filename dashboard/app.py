"""Vigil dashboard entry: sign-in gate (dashboard/sign_in.py) and navigation. Pages live in dashboard/pages/."""

from __future__ import annotations

import streamlit as st

from dashboard import api_client as api
from dashboard import sign_in

st.set_page_config(page_title="Vigil", page_icon="🛡️", layout="wide")


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


if sign_in.through_provider():
    sign_in.follow_provider()
if not api.token():
    navigation = st.navigation([st.Page(sign_in.page, title="Sign in", icon="🔑", url_path="sign_in")])
else:
    who = sign_in.who_or_stop()
    with st.sidebar:
        st.write(f"**{who['email']}**  \n{who['role']} · {who['tenant']}")
        if st.button("Sign out"):
            sign_in.sign_out()
    navigation = st.navigation(pages_for(set(who["permissions"])))
navigation.run()
