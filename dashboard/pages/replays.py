"""Replay runs: a candidate analyzer, prompt or rubric beside the active one, on history or a labelled set."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api

st.title("Replay runs")
st.caption("Made with `vigil replay --candidate NAME --dataset FILE | --since DATE`; production results are never "
           "touched. Each figure is the candidate's, beside the baseline's (the active configuration, or what "
           "production said).")
runs = api.load_or_stop(api.replay_runs, "replay runs")
if not runs:
    st.info("No replay runs yet. Try `vigil replay --candidate offline --dataset "
            "../shared/data/annomi/annomi-dev.jsonl`.")
    st.stop()


def _headline(side: dict) -> str:
    any_risk = side.get("risk", {}).get("any", {})
    return f"R {any_risk.get('recall') if any_risk.get('recall') is not None else '–'} · " \
           f"P {any_risk.get('precision') if any_risk.get('precision') is not None else '–'}"


st.dataframe(pl.DataFrame([{
    "when": run["created_at"][:16].replace("T", " "), "candidate": run["candidate"], "baseline": run["baseline"],
    "source": run["source"], "sessions": run["session_count"], "seconds": run["duration_seconds"],
    "candidate risk": _headline(run["metrics"].get("candidate", {})),
    "baseline risk": _headline(run["metrics"].get("baseline", {})),
} for run in runs]).to_pandas(), hide_index=True, width="stretch")

labels = {run["id"]: f"{run['created_at'][:16]} · {run['candidate']} on {run['source']}" for run in runs}
chosen = st.selectbox("Run", options=list(labels), format_func=labels.get)
run = next(r for r in runs if r["id"] == chosen)
candidate, baseline = run["metrics"].get("candidate", {}), run["metrics"].get("baseline", {})

st.subheader("Risk: precision / recall / F1 per category")
rows = []
for category, scores in candidate.get("risk", {}).items():
    other = baseline.get("risk", {}).get(category, {})
    rows.append({"category": category, "support": scores["support"],
                 "candidate P": scores["precision"], "candidate R": scores["recall"], "candidate F1": scores["f1"],
                 "baseline P": other.get("precision"), "baseline R": other.get("recall"),
                 "baseline F1": other.get("f1")})
st.dataframe(pl.DataFrame(rows).to_pandas(), hide_index=True, width="stretch")

agreement = []
for part, fields in (("mi_quality", ("accuracy", "kappa")), ("turns", ("accuracy", "kappa", "macro_f1"))):
    for name in fields:
        if part in candidate:
            agreement.append({"measure": f"{part} {name}", "n": candidate[part]["n"],
                              "candidate": candidate[part][name], "baseline": baseline.get(part, {}).get(name)})
for key, scores in candidate.get("rubric", {}).items():
    for name in ("accuracy", "kappa"):
        agreement.append({"measure": f"rubric {key} {name}", "n": scores["n"], "candidate": scores[name],
                          "baseline": baseline.get("rubric", {}).get(key, {}).get(name)})
if agreement:
    st.subheader("Rubric agreement")
    st.dataframe(pl.DataFrame(agreement).to_pandas(), hide_index=True, width="stretch")

with st.expander("Predictions (one per session)"):
    detail = api.replay_run(chosen)
    st.json(detail["predictions"].get("candidate", [])[:200], expanded=False)
