"""Judgment: fit the risk model from a tenant's reviews, replay candidates against labels and reviews."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.local import database_url, local_settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Commands import what they use when they run, so `vigil --help` and `vigil ingest` start in a fraction of a
# second (Ray, SQLAlchemy, the models and the SDKs take seconds to import).


def fit(from_reviews: Annotated[bool, typer.Option("--from-reviews", help="Fit from the tenant's reviewed sessions "
                                                   "(supervisor-final labels) plus the shipped data.")] = False,
        tenant: Annotated[str, typer.Option(help="Tenant whose reviews teach the model.")] = "demo",
        data_dir: Annotated[Path, typer.Option(help="The shared labelled data; its development part is used when "
                                                    "present.")] = SHARED_DATA) -> None:
    """Fit new risk heads and store them as a candidate risk-model version; it never activates itself."""
    import sqlalchemy as sa

    from vigil.context import Context
    from vigil.db.models import Tenant
    from vigil.errors import VigilError
    from vigil.services.risk_training import fit_from_reviews

    if not from_reviews:
        raise typer.BadParameter("only --from-reviews is supported here; the shipped model is rebuilt by "
                                 "scripts/fit_risk_sentences.py")
    ctx = Context.build(local_settings(), database_url())
    with ctx.system_db() as db:  # the CLI resolves a tenant's name; the fit itself runs inside its wall
        tenant_id = db.scalar(sa.select(Tenant.id).where(Tenant.name == tenant))
    if tenant_id is None:
        typer.secho(f"fit: no tenant called {tenant!r}", fg="red", err=True)
        raise typer.Exit(2)
    try:
        fitted = fit_from_reviews(ctx, tenant_id, tenant, data_dir if data_dir.exists() else None)
    except VigilError as exc:
        typer.secho(f"fit: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"stored risk model {fitted.version} ({fitted.name}), a candidate, not active\n"
               f"  learned from {fitted.reviewed_sessions} reviewed sessions (at risk: {fitted.at_risk}) and "
               f"{fitted.training_sessions - fitted.reviewed_sessions} shipped ones\n"
               f"next: vigil replay --candidate {fitted.version} --tenant {tenant} --since <date> (or --dataset), "
               f"then an admin activates it: PUT /api/v1/tenants/<id>/config-versions/risk_model/active")


def replay(candidate: Annotated[str, typer.Option(help="An analyzer (offline, openai), a stored prompt, rubric or "
                                                     "risk-model version of the tenant, or 'active'.")] = "offline",
           dataset: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                        help="Labelled-session JSONL to score against.")] = None,
           since: Annotated[datetime | None, typer.Option(help="Replay the tenant's reviewed sessions analysed "
                                                                "since this date, against supervisor-final labels.")]
           = None,
           tenant: Annotated[str, typer.Option(help="Tenant whose configuration, history and replay runs these are "
                                                    "(created if missing).")] = "demo",
           as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: metrics and predictions.")]
           = False,
           workers: Annotated[int, typer.Option(min=1, max=64, help="Sessions analysed at once.")] = 4,
           store: Annotated[bool, typer.Option(help="Store the run (viewable in the dashboard).")] = True,
           report: Annotated[bool, typer.Option("--report", help="Risk detection's three evaluations in one run: "
                                                "development CV, the locked part of --data-dir, the hard cases.")]
           = False,
           data_dir: Annotated[Path, typer.Option(help="The shared labelled data (for --report).")]
           = SHARED_DATA,
           sensitivity: Annotated[str, typer.Option(help="The risk model's operating point for --report: high "
                                                         "or balanced.")] = "high") -> None:
    """Re-run a candidate on history or a labelled set beside the active configuration; production is untouched."""
    import json

    if report:
        _judgment_report(candidate, data_dir, as_json, workers, sensitivity)
        return

    import sqlalchemy as sa
    from tqdm import tqdm

    from vigil.context import Context
    from vigil.db.models import Tenant
    from vigil.errors import VigilError
    from vigil.services.replay import replay as run_replay

    if (dataset is None) == (since is None):
        raise typer.BadParameter("give exactly one of --dataset or --since")
    ctx = Context.build(local_settings(), database_url())
    with ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(Tenant.id).where(Tenant.name == tenant))
        if tenant_id is None:
            row = Tenant(name=tenant)
            db.add(row)
            db.commit()
            tenant_id = row.id
    total = sum(1 for line in dataset.open() if line.strip()) if dataset else None
    try:
        with tqdm(total=total, desc=f"replay {candidate}", unit="session", file=sys.stderr,
                  disable=total is None) as bar:
            outcome = run_replay(ctx, tenant_id, candidate, dataset=dataset, since=since, workers=workers,
                                 store=store, progress=bar.update)
    except VigilError as exc:
        typer.secho(f"replay: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(outcome.as_json()))
    else:
        typer.echo(format_replay(outcome.metrics))


def format_replay(metrics: dict) -> str:  # type: ignore[type-arg]
    """The candidate and the baseline side by side, one line per figure."""
    cand, base = metrics["candidate"], metrics["baseline"]
    lines = [f"source: {metrics['source']}   sessions: {cand['sessions']}   {metrics['seconds']} s"
             + (f"   run: {metrics['run_id']}" if metrics.get("run_id") else ""),
             f"{'':40}{'candidate':>26}{'baseline':>26}",
             f"{'':40}{cand['name'][:25]:>26}{base['name'][:25]:>26}"]

    def row(label: str, a: object, b: object) -> None:
        lines.append(f"{label:40}{_fmt(a):>26}{_fmt(b):>26}")

    for category, scores in cand["risk"].items():
        if scores["support"] == 0 and scores["fp"] == 0 and base["risk"][category]["fp"] == 0:
            continue
        other = base["risk"][category]
        row(f"risk {category} (n={scores['support']}) P/R/F1",
            (scores["precision"], scores["recall"], scores["f1"]), (other["precision"], other["recall"], other["f1"]))
    for part, fields in (("mi_quality", ("accuracy", "kappa")), ("turns", ("accuracy", "kappa", "macro_f1"))):
        if part in cand:
            for name in fields:
                row(f"{part} {name} (n={cand[part]['n']})", cand[part][name], base.get(part, {}).get(name))
    for key, scores in cand.get("rubric", {}).items():
        row(f"rubric {key} accuracy/kappa (n={scores['n']})", (scores["accuracy"], scores["kappa"]),
            (base["rubric"][key]["accuracy"], base["rubric"][key]["kappa"]))
    if cand["errors"] or base["errors"]:
        row("sessions the analyzer failed on", cand["errors"], base["errors"])
    if metrics.get("in_sample_artifacts"):
        lines.append("IN-SAMPLE: these shipped models were fitted on this very file, so figures that depend on them "
                     "are not a measure of accuracy: " + ", ".join(metrics["in_sample_artifacts"])
                     + " (see each model's cross-validated figures in docs/analysis.md)")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, tuple):
        return " / ".join(_fmt(v) for v in value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _judgment_report(candidate: str, data_dir: Path, as_json: bool, workers: int, sensitivity: str) -> None:
    import json

    from tqdm import tqdm

    from vigil.analysis.analyzers.judgment import judgment_report, report_lines
    from vigil.analysis.analyzers.registry import ANALYZERS
    from vigil.analysis.risk.sentence_risk import RiskSettings

    if candidate not in ANALYZERS:
        raise typer.BadParameter(f"--report takes an analyzer: {sorted(ANALYZERS)}")
    analyzer = ANALYZERS[candidate](local_settings(), None).with_risk_settings(RiskSettings(sensitivity=sensitivity))
    with tqdm(desc=f"report {candidate}", unit="session", file=sys.stderr) as bar:
        outcome = judgment_report(analyzer, data_dir, workers=workers, progress=bar.update)
    typer.echo(json.dumps(outcome, indent=1) if as_json else "\n".join(report_lines(outcome)))
