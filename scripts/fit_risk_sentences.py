"""Fit the shipped sentence-level risk model (`vigil/analysis/risk/sentence_risk.py`), choosing every setting by nested
cross-validation inside the development data; the locked part is never read here.

    python scripts/fit_risk_sentences.py [--data-dir ../shared/data] [--out FILE] [--outer 5] [--inner 3]

Data: the development part (`vigil.evaluation.split`) of Reddit C-SSRS (users; Ideation → suicidal ideation,
Behavior/Attempt → also self-harm) and AnnoMI (sessions, mostly hard negatives); the written development
sessions (`vigil/analysis/risk/training/risk-dev-sessions.jsonl`, folded into the cross-validation like any other
session) and sentences (`training/risk_seeds.py`, always on the training side). How a model is fitted:
`vigil/analysis/risk/risk_fit.py`. Outer out-of-fold flags give the development figures (stored in the artifact's
`meta`, printed by `vigil replay --report`); the artifact is then fitted the same way on all of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from vigil.analysis.risk import risk_fit
from vigil.analysis.risk.encoder import shipped_encoder
from vigil.analysis.risk.sentence_risk import MODEL_PATH, SentenceRiskModel
from vigil.analysis.risk.training.risk_seeds import SEEDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("encoding the development data ...", file=sys.stderr)
    shared, hashes = risk_fit.shared_sessions(args.data_dir)
    if not shared:
        raise SystemExit(f"no development data under {args.data_dir}")
    sessions = shared + risk_fit.written_sessions()
    seeds = risk_fit.seed_set()
    print("nested cross-validation ...", file=sys.stderr)
    evaluation = risk_fit.outer_cv(sessions, seeds, args.outer, args.inner, args.seed)
    print("fitting on all of the development data ...", file=sys.stderr)
    model, chosen = risk_fit.fit_model(sessions, seeds, args.inner, args.seed)
    encoder = shipped_encoder()
    meta = {"name": f"risk-sentences-{dt.date.today().isoformat()}", "encoder": encoder.name,
            "encoder_fingerprint": encoder.fingerprint, "trained_on": {**hashes, **risk_fit.written_hashes()},
            "split": "development part only", "seed_sentences": len(SEEDS), "chosen": chosen,
            "development_cv": evaluation, "cv": {"outer": args.outer, "inner": args.inner, "seed": args.seed},
            "recall_target": risk_fit.RECALL_TARGET}
    SentenceRiskModel(model.heads, model.centroids, meta).save(args.out)
    print(json.dumps({"chosen": chosen, **evaluation}, indent=1))


if __name__ == "__main__":
    main()
