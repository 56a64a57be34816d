"""`vigil`: run the product, issue tokens, ingest files, apply migrations, verify the audit log, fit and replay."""

from __future__ import annotations

import typer

from cli import admin, evaluate, run
from cli.audit import audit_app
from cli.keys import keys_app

app = typer.Typer(help="Vigil: recorded sessions in, reviewed decisions out.", no_args_is_help=True)
app.add_typer(admin.token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(admin.retention_app, name="retention")
app.add_typer(keys_app, name="keys")
for command in (admin.slo, admin.migrate, run.ingest, evaluate.fit, evaluate.replay, run.dispatcher, run.up):
    app.command()(command)
