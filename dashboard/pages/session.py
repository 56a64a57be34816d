"""One session: audio, transcript with evidence marked, flags, rubric, summary, overrides and audit."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.alerts_panel import session_alerts
from dashboard.double_review_panel import calibration_section, double_review_section, is_judged
from dashboard.formatting import LOAD_TEST_WARNING, SEVERITY_ICON, clock, label, plain, roles_note
from dashboard.tables import table


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} %"


RISK_LEVELS = ["none", "low", "medium", "high"]

queue = api.load_or_stop(lambda: api.queue(limit=500), "sessions")
current = st.session_state.get("session_id")
if current and current not in {s["id"] for s in queue}:
    try:  # opened from elsewhere (a link, the jobs page) and beyond the first 500 in queue order
        queue = [api.session(current), *queue]
    except api.ApiError:
        current = None
if not queue:
    st.info("No sessions yet.")
    st.stop()
ids = [s["id"] for s in queue]
titles = {s["id"]: f"{SEVERITY_ICON.get(s['risk_level'], '…')} {s['title'] or s['id'][:8]}" for s in queue}
if st.session_state.get("session_picker") != current and current in ids:
    st.session_state["session_picker"] = current  # follow the queue's "Open session" and the Next shortcut
sid = st.selectbox("Session", ids, index=ids.index(current) if current in ids else 0, format_func=titles.get,
                   key="session_picker")
st.session_state["session_id"] = sid


def next_awaiting(after: str) -> str | None:
    """The next flagged session nobody has reviewed, in queue order, other than this one."""
    waiting = [s["id"] for s in api.queue(limit=50, flagged=True, reviewed=False) if s["id"] != after]
    return waiting[0] if waiting else None


session = api.load_or_stop(lambda: api.session(sid), "the session")
st.title(plain(session["title"] or sid))
st.caption(f"{session['media_type']} · {clock(session['duration_seconds'])} · status **{session['status']}**"
           f" · uploaded {session['created_at'][:16].replace('T', ' ')}")
if session.get("load_test_transcript"):
    st.error(LOAD_TEST_WARNING, icon="🧪")
if session["status"] == "failed":
    st.error(f"Processing failed — review manually. {plain(session['error'])}")
    if "reprocess" in st.session_state.get("me", {}).get("permissions", []):
        if st.button("Retry processing", key="reprocess"):
            try:
                accepted = api.reprocess(sid)
            except api.ApiError as exc:
                st.error(f"Not queued: {plain(exc.detail)}")
            else:
                st.success(f"Queued again (job {accepted['job_id'][:8]}).")
elif session["status"] != "ready":
    st.info("Still processing; this page fills in as each stage finishes.")
if session.get("content_purged_at"):
    st.info(f"The audio and transcripts were deleted on {session['content_purged_at'][:10]} by the retention "
            "policy; the analysis, reviews and audit history remain.")

analysis: dict[str, Any] | None = None
try:
    analysis = api.analysis(sid)
except api.ApiError as exc:
    if exc.status != 404:
        st.error(f"Could not load the analysis: {plain(exc.detail)}")
    elif session["status"] == "ready":
        st.warning("Analysis missing — review manually.")

def still_to_do(analysis: dict[str, Any], session: dict[str, Any]) -> list[str]:
    """What a supervisor has not yet decided on this session."""
    todo = []
    if "risk_level" not in analysis["overrides"]:
        if session.get("attention"):
            todo.append(f"{session['attention']}: read the transcript and set the risk level")
        elif session["flagged"]:
            todo.append(f"confirm or change the risk level (AI: {analysis['ai']['risk_level']})")
    for flag in analysis["ai"]["flags"]:
        if f"flag.{flag['category']}" not in analysis["overrides"]:
            todo.append(f"confirm or dismiss the {label(flag['category'])} flag")
    return todo


def show_redactions(sid: str, reviewer: bool) -> None:
    """What was hidden from the transcript (kind and place, not the words), and for reviewers a way to see the
    words (audited) and restore a false positive."""
    st.subheader("Redactions")
    reveal = reviewer and st.toggle("Show the hidden words (recorded in the audit log)", key="reveal_pii")
    found = api.redactions(sid, reveal=reveal)
    rows = [{"#": f["index"], "kind": f["kind"], "segment": f["segment"], "shown as": f["placeholder"],
             "decision": f["decision"], "fingerprint": f["fingerprint"],
             **({"hidden words": f["original"] or ""} if reveal else {})} for f in found]
    table(pl.DataFrame(rows), "redactions")
    if not reviewer or not found:
        return
    with st.form("redaction", clear_on_submit=True):
        index = st.selectbox("Finding", [f["index"] for f in found],
                             format_func=lambda n: f"#{n} {found[n]['kind']} in segment {found[n]['segment']}",
                             key="redaction_finding")
        value = st.radio("Decision", ["restored", "redacted"], horizontal=True,
                         help="restored: not personal data, show the words; redacted: keep them hidden")
        why = st.text_input("Reason (required)", key="redaction_reason")
        if st.form_submit_button("Save decision"):
            if len(why.strip()) < 3:
                st.error("A reason is required.")
            else:
                try:
                    api.submit_review(sid, f"redaction.{index}", value, why.strip())
                except api.ApiError as exc:
                    st.error(f"Not saved: {plain(exc.detail)}")
                else:
                    api.forget_transcript(sid)
                    st.rerun()


def decide(value: str, reason: str) -> None:
    try:
        api.submit_review(sid, "risk_level", value, reason)
    except api.ApiError as exc:
        st.error(f"Not saved: {plain(exc.detail)}")
    else:
        st.session_state["decision_done"] = f"Saved: risk level {value} — {reason}"
        st.rerun()


with st.container(border=True):
    reviewer = api.can("review") and analysis is not None
    cols = st.columns([4, 1, 1, 1])
    note = cols[0].text_input("Note for approve / escalate", key=f"decision_note_{sid}", disabled=not reviewer,
                              label_visibility="collapsed",
                              placeholder="Note for approve / escalate (required to escalate)" if reviewer
                              else "Only supervisors can approve or escalate")
    ai_level = analysis["effective"]["risk_level"] if analysis else None
    if cols[1].button("✔ Approve", key="approve", shortcut="a", disabled=not reviewer or ai_level not in RISK_LEVELS,
                      help="Keep the current risk level; audited as a review. Shortcut: a"):
        decide(ai_level, note.strip() or "Approved: the assessment stands")
    if cols[2].button("⬆ Escalate", key="escalate", shortcut="e", disabled=not reviewer,
                      help="Set the risk level to high; a note is required. Shortcut: e"):
        if len(note.strip()) < 3:
            st.error("Say why you escalate: type a note, then escalate.")
        else:
            decide("high", note.strip())
    if cols[3].button("→ Next", key="next", shortcut="n", help="The next flagged session awaiting review. Shortcut: n"):
        following = next_awaiting(sid)
        if following is None:
            st.info("Nothing else awaits review.")
        else:
            st.session_state["session_id"] = following
            st.rerun()
    if done := st.session_state.pop("decision_done", None):
        st.success(plain(done))

start_key = f"start_{sid}"
try:
    st.audio(api.audio(sid), format="audio/flac", start_time=int(st.session_state.get(start_key, 0)))
except api.ApiError as exc:
    st.caption("Audio deleted by the retention policy." if exc.status == 410 else "Audio not extracted yet.")

evidence_segments: set[int] = set()
if analysis:
    evidence_segments = {e["segment_index"] for f in analysis["ai"]["flags"] for e in f["evidence"]}
    if not analysis.get("content_available", True):
        st.warning("The analysis's text (summary, quotes, rationales) is missing from the object store: its risk "
                   "level, flags and scores are shown, and the evidence is marked by place in the transcript.")

left, right = st.columns([3, 2])
with left:
    st.subheader("Transcript")
    try:
        transcript = api.transcript(sid)
    except api.ApiError as exc:
        transcript = None
        st.caption("Transcript deleted by the retention policy." if exc.status == 410 else "Transcript not ready yet.")
    if transcript and transcript.get("restored_redactions") is not None and session.get("redaction_count"):
        st.caption(f"{session['redaction_count']} piece(s) of personal data are hidden; see Redactions below.")
    if transcript:
        providers = ", ".join(transcript.get("providers") or [transcript["provider"]])
        note = f"from {providers}"
        if transcript.get("reconciliation"):
            summary = transcript["reconciliation"]
            note += f" · providers agreed on {summary['agreement_rate']:.0%} of words"
        metrics = transcript.get("metrics") or {}
        if metrics.get("speech_detected_seconds"):
            note += (f" · segments cover {metrics['speech_covered_seconds']:.0f} s of the "
                     f"{metrics['speech_detected_seconds']:.0f} s of speech detected")
        st.caption(note)
        if marked := metrics.get("inaudible_stretches"):
            st.warning(f"{marked} stretch(es) of speech could not be transcribed: they are marked [inaudible] below, "
                       "with their times. Listen to the recording there.")
        for name, why in (transcript.get("failed_providers") or {}).items():
            st.warning(plain(f"{name} failed for this session ({why}); the transcript is built from the others."))
        for seg in transcript["segments"]:
            marker = "⚠ " if seg["index"] in evidence_segments else "  "
            speaker = f"{seg['speaker']}: " if seg["speaker"] else ""
            st.text(f"{marker}[{clock(seg['start'])}] {speaker}{seg['text']}")

with right:
    if analysis:
        effective = analysis["effective"]
        ai = analysis["ai"]
        risk = effective["risk_level"]
        overridden = "risk_level" in analysis["overrides"]
        if ai.get("risk_status") == "failed":
            st.error("Risk analysis failed — review manually. Read the transcript for risk yourself; "
                     "the retry button below runs the analysis again.")
        st.subheader(f"Risk: {SEVERITY_ICON.get(risk, '')} {risk}" + (" (reviewed)" if overridden else ""))
        if overridden:
            st.caption(f"AI said {ai['risk_level']}")
        for i, flag in enumerate(ai["flags"]):
            decision = effective.get(f"flag.{flag['category']}")
            with st.container(border=True):
                st.markdown(f"**{label(flag['category'])}** — severity {flag['severity']}, "
                            f"confidence {flag['confidence']:.2f}"
                            + (f" · supervisor: {decision}" if decision in ("confirmed", "dismissed") else ""))
                for j, ev in enumerate(flag["evidence"]):
                    cols = st.columns([1, 3])
                    if cols[0].button(f"▶ {clock(ev['start'])}", key=f"jump_{i}_{j}"):
                        st.session_state[start_key] = ev["start"]
                        st.rerun()
                    cols[1].text(f"“{ev['quote']}”")
        if not ai["flags"]:
            st.caption("No risk flags.")
        session_alerts(sid)

        st.subheader("Summary")
        st.text(effective["summary"])
        if effective["action_items"]:
            st.markdown("**Action items**")
            for item in effective["action_items"]:
                st.text(f"• {item}")
        st.subheader("Rubric")
        table(pl.DataFrame([{
            "item": r["label"], "AI": r["score"], "score": effective.get(f"rubric.{r['key']}", r["score"]),
            "of": r.get("scale_max", 5), "rationale": r["rationale"]} for r in ai["rubric"]],
            schema_overrides={"AI": pl.Float64, "score": pl.Float64}), "rubric")
        miti = ai.get("miti")
        if miti:
            st.markdown("**MITI summary scores**")
            cols = st.columns(4)
            cols[0].metric("Reflection : question", "–" if miti["reflection_to_question"] is None
                           else f"{miti['reflection_to_question']:.1f} : 1", help="fair 1:1, good 2:1")
            cols[1].metric("% complex reflections", _pct(miti["percent_complex_reflections"]),
                           help="fair 40 %, good 50 %")
            cols[2].metric("% open questions", _pct(miti["percent_open_questions"]))
            cols[3].metric("MI quality", effective.get("mi_quality") or miti.get("mi_quality") or "–")
        analytics = ai.get("analytics")
        if analytics:
            with st.expander("Conversation analytics"):
                table(pl.DataFrame([{"speaker": who, **stats} for who, stats in analytics["speakers"].items()]),
                      "speakers")
                if analytics.get("roles"):
                    table(pl.DataFrame([{"role": role, **stats} for role, stats in analytics["roles"].items()]),
                          "roles")
                st.caption(f"{analytics['words_per_minute'] or '–'} words/min overall · "
                           f"{len(analytics['long_silences'])} silences ≥ {analytics['long_silence_seconds']:g} s · "
                           f"{analytics['interruptions']} interruptions · fillers: "
                           + (", ".join(f"{w} ×{n}" for w, n in analytics["fillers"].items()) or "none"))
        st.caption(roles_note(ai.get("roles")))
        tasks = ai.get("tasks") or {}
        if tasks:
            st.caption("Tasks: " + " · ".join(
                f"{name} {'✔' if t['status'] == 'succeeded' else '✖ ' + (t.get('error') or t['status'])} "
                f"{t['seconds']:.2f} s" for name, t in tasks.items()))
        st.caption(f"analysis v{analysis['analysis_version']} · {analysis['model']} · "
                   f"prompt {analysis['prompt_version']}" + (f" · rubric {ai['rubric_version']}"
                                                            if ai.get("rubric_version") else ""))

if analysis:
    st.subheader("What changed after review")
    if analysis["overrides"]:
        table(pl.DataFrame([{
            "field": field, "AI value": str(r["ai_value"]), "human value": str(r["human_value"]),
            "reason": r["reason"], "reviewer": r["reviewer_email"], "at": r["created_at"][:19]}
            for field, r in analysis["overrides"].items()]), "changes")
    else:
        st.caption("Not reviewed yet: every value above is the AI's.")
    pending = still_to_do(analysis, session)
    if pending:
        st.warning("**Still needs action**\n\n" + "\n".join(f"- {plain(item)}" for item in pending))
    else:
        st.success("Nothing left to act on: the risk level and every flag have a supervisor's decision.")

    calibration = session.get("purpose") == "calibration"
    if calibration:
        calibration_section(sid)
    in_double_review = not calibration and double_review_section(sid) in ("open", "disagreement")
    if "review" in st.session_state.get("me", {}).get("permissions", []) and not calibration:
        st.subheader("Override")
        fields = [f for f in analysis["effective"] if not (in_double_review and is_judged(f))]
        field = st.selectbox("Field", fields, key="override_field")
        current_value = analysis["effective"][field]
        with st.form("override", clear_on_submit=True):
            if field == "risk_level":
                value: Any = st.selectbox("New value", RISK_LEVELS, placeholder="Choose the risk level",
                                          index=RISK_LEVELS.index(current_value) if current_value in RISK_LEVELS
                                          else None)
            elif field.startswith("rubric."):
                scale = {f"rubric.{r['key']}": r.get("scale_max", 5) for r in analysis["ai"]["rubric"]}
                value = st.slider("New score", 1, scale.get(field, 5), int(current_value))
            elif field == "mi_quality":
                value = st.radio("MI quality", ["high", "low"], horizontal=True)
            elif field.startswith("flag."):
                value = st.radio("Decision", ["confirmed", "dismissed"], horizontal=True)
            elif field == "action_items":
                value = [line for line in st.text_area("Action items, one per line",
                                                       "\n".join(current_value)).splitlines() if line.strip()]
            else:
                value = st.text_area("New value", current_value)
            reason = st.text_area("Reason (required)", key="override_reason")
            if st.form_submit_button("Save override", type="primary"):
                if len(reason.strip()) < 3:
                    st.error("A reason is required for every override.")
                else:
                    try:
                        api.submit_review(sid, field, value, reason.strip())
                    except api.ApiError as exc:
                        st.error(f"Not saved: {plain(exc.detail)}")
                    else:
                        st.success(plain(f"Saved: {field} → {value}"))
                        st.rerun()

        if transcript:
            st.subheader("Correct a speaker")
            segment_labels = {seg["index"]: f"[{clock(seg['start'])}] {seg['text'][:60]}"
                              for seg in transcript["segments"]}
            with st.form("speaker", clear_on_submit=True):
                index = st.selectbox("Segment", list(segment_labels), format_func=segment_labels.get,
                                     key="speaker_segment")
                name = st.text_input("Speaker (e.g. counselor, client, a name)", key="speaker_name")
                why = st.text_input("Reason (required)", key="speaker_reason")
                if st.form_submit_button("Save speaker"):
                    if len(why.strip()) < 3 or not name.strip():
                        st.error("A speaker and a reason are required.")
                    else:
                        try:
                            api.submit_review(sid, f"segment.{index}.speaker", name.strip(), why.strip())
                        except api.ApiError as exc:
                            st.error(f"Not saved: {plain(exc.detail)}")
                        else:
                            api.forget_transcript(sid)
                            st.rerun()

    if session.get("redaction_count") and not session.get("content_purged_at"):
        show_redactions(sid, reviewer)

    st.subheader("Audit history")
    entries = api.audit(sid)
    table(pl.DataFrame([{
        "at": e["created_at"][:19], "action": e["action"], "by": e["actor_email"] or "system",
        "detail": ", ".join(f"{k}={v}" for k, v in e["detail"].items())} for e in entries],
        schema={"at": pl.String, "action": pl.String, "by": pl.String, "detail": pl.String}), "audit")
