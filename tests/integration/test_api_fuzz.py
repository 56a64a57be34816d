"""The API fuzzed from its own OpenAPI schema (schemathesis, a bounded number of examples per operation) as a
signed-in admin over a real database: no answer may be a 5xx, and every documented response must match its
schema. The number of cases run is printed at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from serve.app import create_app
from serve.deps import set_process_context
from tests.conftest import Tenant, isolated_context, make_tenant
from vigil.context import Context

EXAMPLES_PER_OPERATION = 12
ANSWERS: Counter[int] = Counter()


@dataclass
class World:
    ctx: Context
    tenant: Tenant


@pytest.fixture(scope="module")
def world(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tests.integration.test_analysis_tasks import transcribed_session
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.services.pipeline import run_analyze

    # No rate limit here: ~1,400 requests from one token in seconds would otherwise be mostly 429s.
    # Event streams end within a second, whatever `max_seconds` the fuzzer draws.
    ctx = isolated_context(pg_admin_url, tmp_path_factory.mktemp("fuzz"), api_rate_limit="",
                           events_stream_max_seconds=0.5)
    tenant = make_tenant(ctx)
    run_analyze(ctx, transcribed_session(ctx, tenant), OfflineAnalyzer())  # some real rows to find
    set_process_context(ctx)
    yield World(ctx, tenant)
    set_process_context(None)
    print(f"\nfuzz: {sum(ANSWERS.values())} cases, answers by status {dict(sorted(ANSWERS.items()))}, "
          f"5xx: {sum(n for status, n in ANSWERS.items() if status >= 500)}")


# The app is built at import (schemathesis reads its schema to make the tests); its context, a database of the
# test's own, is given by the fixture below, as a Serve replica gets its context.
APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_no_operation_answers_5xx_or_breaks_its_schema(case, world: World) -> None:  # type: ignore[no-untyped-def]
    response = case.call_and_validate(headers=world.tenant.headers("admin"),
                                      checks=[not_a_server_error, response_schema_conformance])
    ANSWERS[response.status_code] += 1


def test_what_the_fuzzer_found_stays_fixed(client, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
    """A NUL character in a filter was a 500 (PostgreSQL refuses it); a non-ASCII upload signature was a 500
    (hmac compares ASCII strings only)."""
    import uuid

    nul = client.get("/api/v1/sessions/summary", params={"category": "\x00"}, headers=tenant_a.headers())
    assert nul.status_code == 400 and nul.json()["code"] == "invalid_value"
    review = client.post(f"/api/v1/sessions/{uuid.uuid4()}/reviews", headers=tenant_a.headers(),
                         json={"field": "summary", "value": "x", "reason": "bad \x00 byte"})
    assert review.status_code in (400, 404)
    signed = client.put(f"/api/v1/uploads/{uuid.uuid4()}/content", params={"expires": 0, "signature": "\u0080"},
                        content=b"x")
    assert signed.status_code == 403
