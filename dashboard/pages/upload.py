"""Upload a recorded session (audio or video). The API checks the content, not the name, and answers at once;
the pipeline runs in the background and this page shows where each of your uploads stands."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain
from dashboard.tables import table

st.title("Upload")
with st.form("upload", clear_on_submit=True):
    media = st.file_uploader("Recording", type=None, key="upload_file",
                             help="wav, mp3, m4a, mp4, webm, ogg, flac… The server probes the content with ffprobe.")
    cols = st.columns(3)
    title = cols[0].text_input("Title", key="upload_title")
    counselor = cols[1].text_input("Counselor", key="upload_counselor")
    team = cols[2].text_input("Team", key="upload_team")
    if st.form_submit_button("Upload", type="primary"):
        if media is None:
            st.error("Choose a recording first.")
        else:
            try:
                accepted = api.upload(media.name, media.getvalue(), title.strip() or None, counselor.strip() or None,
                                      team.strip() or None)
            except api.ApiError as exc:
                st.error(f"Not accepted ({exc.status}): {plain(exc.detail)}")
            else:
                st.success(f"Accepted: session {accepted['session_id'][:8]}, job {accepted['job_id'][:8]}. "
                           "It is processed in the background.")

st.subheader("Your recent uploads" if not api.can("read_content") else "Recent uploads")
rows = api.load_or_stop(lambda: api.queue(limit=50, order="newest"), "uploads")
if not rows:
    st.caption("Nothing uploaded yet.")
else:
    table(pl.DataFrame([{"title": s["title"] or s["original_filename"] or "", "status": s["status"],
                         "counselor": s.get("counselor") or "", "uploaded": s["created_at"][:16].replace("T", " "),
                         "error": s["error"] or ""} for s in rows]), "uploads")
