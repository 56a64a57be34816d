"""A tenant's custom vocabulary: set by its admin (audited), handed to every speech provider, and heard.

Speech for the recognition tests is made at test time by Debian's espeak-ng (installed with apt when missing, as
samples/generate.py speaks the bundled samples): sentences with rare names that Whisper tiny.en gets wrong without
the vocabulary and right with it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLES, Tenant, isolated_context, make_tenant, process_session, tenant_id_of
from vigil.context import Context
from vigil.db.models import AuditEntry
from vigil.schemas.transcripts import ProviderTranscript
from vigil.services.auth import authenticate
from vigil.services.tenants import set_vocabulary
from vigil.transcription.quality import normalise_words
from vigil.transcription.whisper import WhisperTranscriber, default_model_dir

VOICE = "en-us+m3"  # the counselor's voice in samples/generate.py
SENTENCES = {
    "Harborlight": "You can join the Harborlight program next week.",
    "Naltrexone": "We started you on Naltrexone last month, how is it going?",
    "Quellanor": "The doctor prescribed Quellanor for the cravings.",
}


def espeak() -> str:
    """espeak-ng, installed from Debian's packages when missing; skipped where it cannot be (a failure under CI)."""
    if found := shutil.which("espeak-ng"):
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "espeak-ng"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # no package lists yet
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
    if found := shutil.which("espeak-ng"):
        return found
    reason = "espeak-ng is missing and could not be installed with apt-get"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    binary, root = espeak(), tmp_path_factory.mktemp("spoken")
    files = {}
    for term, sentence in SENTENCES.items():
        files[term] = root / f"{term}.wav"
        subprocess.run([binary, "-v", VOICE, "-s", "150", "-w", str(files[term]), sentence], check=True)
    return files


def _heard(transcript: ProviderTranscript) -> list[str]:
    return normalise_words(" ".join(w.text for w in transcript.words))


# ------------------------------------------------------------------ recognition
@pytest.mark.parametrize("term", sorted(SENTENCES))
def test_a_rare_name_is_heard_with_the_vocabulary_and_not_without(term: str, spoken: dict[str, Path],
                                                                  whisper: WhisperTranscriber) -> None:
    without = _heard(whisper.transcribe(spoken[term]))
    with_it = _heard(whisper.transcribe(spoken[term], ["Bayview Clinic", term, "Vivitrol"]))

    assert term.lower() not in without
    assert term.lower() in with_it


def test_a_vocabulary_of_other_names_leaves_ordinary_speech_alone(whisper: WhisperTranscriber) -> None:
    plain = _heard(whisper.transcribe(SAMPLES / "checkin-risk.mp3"))
    hinted = _heard(whisper.transcribe(SAMPLES / "checkin-risk.mp3", ["Harborlight", "Naltrexone", "Quellanor"]))

    assert not {"harborlight", "naltrexone", "quellanor"} & set(hinted)
    assert abs(len(hinted) - len(plain)) <= 3


# ------------------------------------------------------------------ the setting
def test_an_admin_sets_the_vocabulary_tidied_and_once_each(client, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
    tenant_id = client.get("/api/v1/me", headers=tenant_a.headers("admin")).json()["tenant_id"]
    url = f"/api/v1/tenants/{tenant_id}/vocabulary"

    put = client.put(url, headers=tenant_a.headers("admin"),
                     json={"terms": ["Naltrexone", "  Bayview   Clinic ", "naltrexone", ""]})

    assert put.status_code == 200
    assert put.json() == {"terms": ["Naltrexone", "Bayview Clinic"]}
    assert client.get(url, headers=tenant_a.headers("admin")).json() == {"terms": ["Naltrexone", "Bayview Clinic"]}


@pytest.mark.parametrize("role", ["supervisor", "lead", "uploader", "counselor"])
def test_only_an_admin_may_read_or_change_it(client, tenant_a: Tenant, role: str) -> None:  # type: ignore[no-untyped-def]
    tenant_id = client.get("/api/v1/me", headers=tenant_a.headers("admin")).json()["tenant_id"]
    url = f"/api/v1/tenants/{tenant_id}/vocabulary"

    assert client.put(url, headers=tenant_a.headers(role), json={"terms": ["Naltrexone"]}).status_code == 403
    assert client.get(url, headers=tenant_a.headers(role)).status_code == 403


@pytest.mark.parametrize("term", ["one two three four five six seven", "x" * 101])
def test_a_term_no_provider_would_take_is_refused(client, tenant_a: Tenant, term: str) -> None:  # type: ignore[no-untyped-def]
    tenant_id = client.get("/api/v1/me", headers=tenant_a.headers("admin")).json()["tenant_id"]

    answer = client.put(f"/api/v1/tenants/{tenant_id}/vocabulary", headers=tenant_a.headers("admin"),
                        json={"terms": ["Naltrexone", term]})

    assert answer.status_code == 400


def test_each_change_is_audited_with_the_terms_added_and_removed(client, ctx: Context,  # type: ignore[no-untyped-def]
                                                                  tenant_a: Tenant) -> None:
    tenant_id = client.get("/api/v1/me", headers=tenant_a.headers("admin")).json()["tenant_id"]
    url = f"/api/v1/tenants/{tenant_id}/vocabulary"
    client.put(url, headers=tenant_a.headers("admin"), json={"terms": ["Naltrexone", "Bayview Clinic"]})
    client.put(url, headers=tenant_a.headers("admin"), json={"terms": ["Bayview Clinic", "Harborlight"]})

    with ctx.system_db() as db:
        details = db.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "tenant.vocabulary",
                                                                AuditEntry.tenant_id == tenant_id_of(ctx, tenant_a))
                             .order_by(AuditEntry.seq)).all()
    assert details == [{"added": ["Naltrexone", "Bayview Clinic"], "removed": [], "terms_after": 2},
                       {"added": ["Harborlight"], "removed": ["Naltrexone"], "terms_after": 2}]


# ------------------------------------------------------------------ through the transcribe stage
class Listening(WhisperTranscriber):
    """Whisper, noting the vocabulary each call was given."""

    given: list[list[str]] = []

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        self.given.append(list(vocabulary))
        return super().transcribe(audio_path, vocabulary)


@pytest.mark.own_database
def test_the_transcribe_stage_hands_the_tenants_vocabulary_to_its_providers(pg_admin_url: str,
                                                                           tmp_path: Path) -> None:
    ctx = isolated_context(pg_admin_url, tmp_path)
    tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        admin = authenticate(db, tenant.admin)
    with ctx.tenant_db(admin.tenant_id) as db:
        set_vocabulary(db, admin, admin.tenant_id, ["Naltrexone", "Bayview Clinic"])
    listening = Listening(default_model_dir())

    process_session(ctx, tenant, SAMPLES / "checkin-risk.mp3", listening)

    assert listening.given == [["Naltrexone", "Bayview Clinic"]]
