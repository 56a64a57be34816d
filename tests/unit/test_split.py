"""The locked split: decided by the id alone, about 30 %, and no id on both sides."""

import json
from pathlib import Path

import pytest

from vigil.evaluation.split import LOCKED_SHARE, development, is_locked, locked, split_ids

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_the_split_is_a_pure_function_of_the_id():
    ids = [f"cssrs-user-{i}" for i in range(2000)]
    assert [is_locked(i) for i in ids] == [is_locked(i) for i in reversed(ids)][::-1]
    share = sum(map(is_locked, ids)) / len(ids)
    assert abs(share - LOCKED_SHARE) < 0.03


def test_development_and_locked_partition_the_sessions():
    sessions = [{"id": f"annomi-{i}"} for i in range(500)]
    dev, held = development(sessions), locked(sessions)
    assert len(dev) + len(held) == len(sessions)
    assert not {s["id"] for s in dev} & {s["id"] for s in held}


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data beside the checkout")
@pytest.mark.parametrize("name", ["cssrs/cssrs-dev.jsonl", "annomi/annomi-dev.jsonl"])
def test_no_session_or_user_of_the_shared_data_is_in_both_parts(name):
    ids = [json.loads(line)["id"] for line in (DATA / name).read_text().splitlines() if line.strip()]
    dev, held = split_ids(ids)
    assert set(dev).isdisjoint(held) and len(dev) + len(held) == len(set(ids))
    assert 0.2 < len(held) / len(ids) < 0.4
