"""Governance: the tenant's prompt and rubric versions (which is active), replay runs side by side, and for admins
the transcription settings (who speaks first, custom vocabulary)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.comparison import side_by_side
from dashboard.formatting import plain
from dashboard.tables import table
from dashboard.transcription_settings import transcription_settings_panel

st.title("Governance")
st.caption("A version is the hash of its content and never changes; analyses record the prompt and rubric version "
           "they used. Replay runs (`vigil replay --candidate NAME --dataset FILE | --since DATE`) try a candidate "
           "beside the active configuration without touching production results.")

versions = api.load_or_stop(api.config_versions, "configuration versions")
st.subheader("Prompt and rubric versions")
if not versions:
    st.info("No stored versions: the analyzer's built-in prompts and the default rubric (MITI 4.2.1) are in use. "
            "Admins add versions with `POST /api/v1/tenants/{id}/config-versions`.")
else:
    table(pl.DataFrame([{"kind": v["kind"], "name": v["name"], "version": v["version"],
                         "active": "✔" if v["active"] else "", "created": v["created_at"][:16].replace("T", " ")}
                        for v in versions]), "config-versions")
    labels = {(v["kind"], v["version"]): f"{v['kind']} · {v['name']} · {v['version']}"
              + (" (active)" if v["active"] else "") for v in versions}
    chosen = st.selectbox("Version", list(labels), format_func=labels.get, key="version_choice")
    version = next(v for v in versions if (v["kind"], v["version"]) == chosen)
    with st.expander("Content"):
        st.json(version["content"], expanded=False)
    if api.can("administer"):
        cols = st.columns([1, 1, 4])
        if cols[0].button("Activate", disabled=version["active"], key="activate"):
            try:
                api.activate_version(version["kind"], version["version"])
            except api.ApiError as exc:
                st.error(f"Not activated: {plain(exc.detail)}")
            else:
                st.success(f"{version['kind']} {version['version']} is active; new analyses use it.")
                st.rerun()
        if cols[1].button("Back to built-in", key="deactivate",
                          help=f"Stop using a stored {version['kind']}; the analyzer's own is used."):
            try:
                api.activate_version(version["kind"], None)
            except api.ApiError as exc:
                st.error(f"Not changed: {plain(exc.detail)}")
            else:
                st.rerun()

if api.can("administer"):
    transcription_settings_panel()

st.subheader("Replay runs")
runs = api.load_or_stop(api.replay_runs, "replay runs")
if not runs:
    st.info("No replay runs yet. Try `vigil replay --candidate offline --dataset "
            "../shared/data/annomi/annomi-dev.jsonl`.")
    st.stop()


def _headline(side: dict) -> str:
    any_risk = side.get("risk", {}).get("any", {})
    return f"R {any_risk.get('recall') if any_risk.get('recall') is not None else '–'} · " \
           f"P {any_risk.get('precision') if any_risk.get('precision') is not None else '–'}"


table(pl.DataFrame([{
    "when": run["created_at"][:16].replace("T", " "), "candidate": run["candidate"], "baseline": run["baseline"],
    "source": run["source"], "sessions": run["session_count"], "seconds": run["duration_seconds"],
    "candidate risk": _headline(run["metrics"].get("candidate", {})),
    "baseline risk": _headline(run["metrics"].get("baseline", {})),
} for run in runs]), "replay-runs")

names = {run["id"]: f"{run['created_at'][:16].replace('T', ' ')} {run['candidate']}" for run in runs}
picked = st.multiselect("Compare runs side by side", list(names), default=[runs[0]["id"]], format_func=names.get,
                        max_selections=4, key="compare_runs")
if picked:
    chosen_runs = [next(r for r in runs if r["id"] == run_id) for run_id in picked]
    sources = {r["source"] for r in chosen_runs}
    if len(sources) > 1:
        st.warning("These runs replayed different sources, so their figures are not directly comparable: "
                   + ", ".join(sorted(sources)))
    table(side_by_side(chosen_runs, [names[r] for r in picked]), "replay-comparison")
    with st.expander("Predictions of the first run (one per session)"):
        detail = api.replay_run(picked[0])
        st.json(detail["predictions"].get("candidate", [])[:200], expanded=False)
