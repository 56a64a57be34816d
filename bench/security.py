"""Security report: runs the security tests for real (real PostgreSQL, the real API app, real stores) and prints
what they tried and what they found, side by side:

- tenant walls, API: every operation of the OpenAPI schema × every role of tenant B, with tenant A's ids;
- tenant walls, database: raw SQL under B's row-level-security context against every table holding A's rows;
- fuzzing: schemathesis cases generated from the OpenAPI schema, and how many answered 5xx;
- audit tampering: kinds of edit, deletion and reordering tried on the hash chain (with and without the audit key,
  against its checkpoints), and how many were detected;
- redaction: false flags of numbers on real counseling text (the data under ../shared/data), when present.

Usage: .venv/bin/python bench/security.py   (exit status 1 when anything leaked, crashed or went undetected)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/integration/test_tenant_walls.py", "tests/integration/test_row_level_security.py",
         "tests/integration/test_api_fuzz.py", "tests/integration/test_audit_chain.py",
         "tests/integration/test_audit_checkpoints.py", "tests/integration/test_secrets.py",
         "tests/unit/test_redaction.py"]
TAMPER_TESTS = ("test_every_kind_of_tampering_is_detected",
                "test_a_superuser_without_the_key_who_rewrites_an_entry_every_later_hash_and_the_head_is_caught",
                "test_a_key_holder_who_rewrites_entries_before_a_checkpoint_is_caught_by_it",
                "test_entries_cut_off_the_end_with_the_head_moved_back_are_caught_by_a_checkpoint")


def run_tests(report: Path) -> str:
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"--junitxml={report}", *TESTS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return done.stdout + done.stderr


def first(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        output = run_tests(report)
        cases = ET.parse(report).getroot().iter("testcase")
        results = [(case.get("name", ""), case.find("failure") is None and case.find("error") is None,
                    case.find("skipped") is not None) for case in cases]
    failed = [name for name, ok, _ in results if not ok]
    tamper = [(name, ok) for name, ok, _ in results if name.startswith(TAMPER_TESTS)]
    walls = first(r"tenant walls: (\d+) calls .*?, leaks (\d+)", output)
    rls = first(r"row-level security: (\d+) of A's rows across (\d+) tables, (\d+) seen by B", output)
    fuzz = first(r"fuzz: (\d+) cases, answers by status .*?5xx: (\d+)", output)
    fuzz_5xx = int(fuzz.group(2)) if fuzz else None
    flags = re.findall(r"([\w-]+)\.jsonl: (\d+) utterances, flagged (\{[^}]*\}|nothing)", output)

    rows = [
        ("tenant walls (API)", f"{walls.group(1)} calls: operations × 5 roles of tenant B" if walls else "not run",
         f"{walls.group(2)} leaks" if walls else "?"),
        ("tenant walls (database)", f"{rls.group(1)} rows of A in {rls.group(2)} tables, raw SQL as B" if rls
         else "not run", f"{rls.group(3)} seen" if rls else "?"),
        ("fuzzing (schemathesis)", f"{fuzz.group(1)} generated cases" if fuzz else "not run",
         f"{fuzz_5xx} answered 5xx" if fuzz else "?"),
        ("audit tampering", f"{len(tamper)} kinds of tampering tried",
         f"{sum(ok for _, ok in tamper)} of {len(tamper)} detected"),
    ]
    rows += [(f"redaction false flags ({name})", f"{n} utterances of real counseling text", counts)
             for name, n, counts in flags]
    width = max(len(r[0]) for r in rows)
    print(f"{'check':<{width}}  {'tried':<52}  found")
    for check, tried, found in rows:
        print(f"{check:<{width}}  {tried:<52}  {found}")
    print(f"\n{len(results)} security tests, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    broken = (failed or not walls or walls.group(2) != "0" or not rls or rls.group(3) != "0" or not fuzz
              or fuzz_5xx or not tamper or not all(ok for _, ok in tamper))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
