"""An admin's transcription settings for the tenant: who speaks first (roles) and the custom vocabulary.
Both apply to sessions transcribed or analysed from now on, and both are audited by the API."""

from __future__ import annotations

import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain

_FIRST = {None: "Work it out from what each speaker says", "counselor": "The counselor", "client": "The client"}


def transcription_settings_panel() -> None:
    st.subheader("Transcription settings")
    speakers = api.load_or_stop(api.speaker_settings, "speaker settings")
    terms = api.load_or_stop(api.vocabulary, "vocabulary")
    with st.form("transcription_settings"):
        first = st.selectbox("Who speaks first in this tenant's sessions", list(_FIRST), format_func=_FIRST.get,
                             index=list(_FIRST).index(speakers["first_speaker"]), key="first_speaker")
        written = st.text_area("Custom vocabulary: names of programs, medications and places, one per line",
                               value="\n".join(terms), height=150, key="vocabulary_terms",
                               help="Whisper hears them as hotwords, AssemblyAI as word boost, Google as speech "
                                    "adaptation phrases. Each term 1–100 characters, at most 6 words.")
        if not st.form_submit_button("Save"):
            return
    wanted = [line.strip() for line in written.splitlines() if line.strip()]
    try:
        if first != speakers["first_speaker"]:
            api.set_first_speaker(first)
        saved = api.set_vocabulary(wanted) if wanted != terms else terms
    except api.ApiError as exc:
        st.error(f"Not saved: {plain(exc.detail)}")
        return
    st.success(f"Saved: {len(saved)} vocabulary terms; new transcriptions use them.")
