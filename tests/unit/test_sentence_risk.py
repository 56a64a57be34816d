"""The sentence model: what it reads, what it quotes, how sure it says it is, and how it is rebuilt."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vigil.analysis.analyzers.judgment import hard_case_figures
from vigil.analysis.risk.encoder import shipped_encoder
from vigil.analysis.risk.plain_reading import model_sentences
from vigil.analysis.risk.risk_detection import detect_risks
from vigil.analysis.risk.sentence_risk import (
    MODEL_PATH,
    SENSITIVITIES,
    SentenceRiskModel,
    find_sentence_risks,
    shipped_sentence_model,
)
from vigil.analysis.text.turns import read_turns
from vigil.evaluation.dataset import LabelledSession
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import Segment

REPO = Path(__file__).resolve().parents[2]


def turns_of(*lines: tuple[str, str]):
    return read_turns([Segment(index=i, start=float(i), end=i + 1.0, text=text, speaker=speaker)
                       for i, (speaker, text) in enumerate(lines)])


CUT_WHILE_THINKING_OF_DYING = turns_of(
    ("counselor", "How have things been since we last spoke?"),
    ("client", "Not good. I cut myself really deeply on Friday night while I was thinking about killing myself."),
    ("counselor", "Where did you cut yourself?"),
    ("client", "On my arm. It needed stitches."),
)


def flag(flags, category):
    return next((f for f in flags if f.category is category), None)


def test_questions_put_to_the_client_are_not_read():
    read = [s.text for s in model_sentences(CUT_WHILE_THINKING_OF_DYING)]
    assert "Where did you cut yourself?" not in read
    assert "How have things been since we last spoke?" not in read
    assert "On my arm." in read


def test_recent_self_harm_with_suicidal_thinking_is_high_and_quotes_the_client():
    flags = detect_risks(CUT_WHILE_THINKING_OF_DYING)
    harm = flag(flags, RiskCategory.self_harm)
    assert harm is not None and harm.severity is RiskLevel.high
    assert harm.evidence[0].quote.startswith("Not good.") or "cut myself" in harm.evidence[0].quote
    assert all("Where did you" not in e.quote for f in flags for e in f.evidence)


def test_self_harm_told_by_its_method_is_flagged_from_the_sentence_that_carried_it():
    turns = turns_of(
        ("counselor", "What's been on your mind this week?"),
        ("client", "Mostly the garden, to be honest. The tomatoes finally came in."),
        ("counselor", "That sounds like a good distraction."),
        ("client", "It is. I took a razor to my thighs again last night."),
    )
    findings = find_sentence_risks(shipped_sentence_model(), model_sentences(turns), shipped_encoder())
    harm = next((f for f in findings if f.category is RiskCategory.self_harm), None)
    assert harm is not None
    assert "razor" in harm.evidence[0].sentence.text
    assert harm.evidence[0].turn.segment.speaker == "client"


def test_a_counselors_words_never_make_a_model_flag():
    turns = turns_of(("counselor", "Some people feel everyone would be better off without them."),
                     ("client", "Work has been busy but fine. I'm looking forward to the weekend."))
    assert find_sentence_risks(shipped_sentence_model(), model_sentences(turns), shipped_encoder()) == []


def test_the_balanced_setting_flags_no_more_than_the_recall_first_one():
    model = shipped_sentence_model()
    for head in model.heads.values():
        assert set(head.thresholds) == set(SENSITIVITIES)
        assert head.thresholds["balanced"] >= head.thresholds["high"]


def test_the_shipped_model_says_how_it_was_chosen_and_that_its_confidence_is_calibrated():
    meta = shipped_sentence_model().meta
    assert meta["split"] == "development part only"
    assert all(len(digest) == 64 for digest in meta["trained_on"].values())
    figures = meta["development_cv"]["figures"]
    assert figures["cssrs/high"]["any_risk"]["support"] > 100
    # Out-of-fold reliability: what the model says (mean p) within 0.1 of what happened in every bin, and overall.
    calibration = meta["development_cv"]["calibration"]
    assert calibration["ece"] < 0.05
    assert all(abs(b["mean_p"] - b["observed"]) < 0.15 for b in calibration["bins"] if b["n"] >= 20)
    assert MODEL_PATH.stat().st_size < 200_000


def test_the_artifact_round_trips(tmp_path):
    model = shipped_sentence_model()
    model.save(tmp_path / "copy.json.gz")
    again = SentenceRiskModel.load(tmp_path / "copy.json.gz")
    vectors = np.random.default_rng(0).normal(size=(4, 384)).astype(np.float32)
    np.testing.assert_allclose(model.score_vectors(vectors).logits, again.score_vectors(vectors).logits, atol=1e-4)


def test_hard_case_figures_count_a_disclosure_only_when_its_own_category_is_flagged():
    def case(i, risk, expect, kind):
        return LabelledSession.model_validate({"id": f"c{i}", "turns": [{"speaker": "client", "text": "x"}],
                                               "labels": {"risk": risk, "hard_case": {"kind": kind,
                                                                                       "expect": expect}}})
    suite = [case(1, ["self_harm"], "flag", "method"), case(2, ["self_harm"], "flag", "method"),
             case(3, [], "no_flag", "idiom"), case(4, [], "no_flag", "idiom")]
    predicted = {"c1": ["self_harm"], "c2": ["harm_to_others"], "c3": [], "c4": ["suicidal_ideation"]}
    figures = hard_case_figures(suite, predicted)
    assert (figures["disclosures_caught"], figures["negatives_flagged"]) == (1, 1)
    assert figures["kinds"]["disclosure/method"]["missed"] == ["c2"]


_POSITIVE = ["I keep wishing I would not wake up.", "Everyone would be better off without me.",
             "I have been saving my pills.", "I want to die.", "I wrote goodbye letters to my kids."]
_NEGATIVE = ["Work was busy again today.", "I went for a long walk with the dog.", "My sister came for dinner.",
             "This commute is killing me.", "We watched a film and ordered pizza."]


@pytest.mark.timeout(900)
def test_the_fit_script_chooses_inside_the_development_part_and_writes_a_loadable_artifact(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(3)
    users = []
    for n in range(40):
        at_risk = n % 2 == 0
        pool = _POSITIVE if at_risk else _NEGATIVE
        posts = [" ".join(rng.choice(pool, 1).tolist() + rng.choice(_NEGATIVE, 2).tolist()) for _ in range(3)]
        users.append({"id": f"cssrs-user-{n}", "turns": [{"speaker": "client", "text": p} for p in posts],
                      "labels": {"risk": ["suicidal_ideation"] if at_risk else []}})
    annomi = [{"id": f"annomi-{n}", "turns": [{"speaker": "counselor", "text": "How was the week?"},
                                              {"speaker": "client", "text": " ".join(_NEGATIVE)}],
               "labels": {"risk": []}} for n in range(10)]
    for name, rows in (("cssrs/cssrs-dev.jsonl", users), ("annomi/annomi-dev.jsonl", annomi)):
        (data / name).parent.mkdir(parents=True)
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "model.json.gz"

    done = subprocess.run([sys.executable, "scripts/fit_risk_sentences.py", "--data-dir", str(data), "--out", str(out),
                           "--outer", "2", "--inner", "2"], cwd=REPO, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stderr[-2000:]
    model = SentenceRiskModel.load(out)
    from vigil.evaluation.split import development
    assert model.meta["development_cv"]["figures"]["cssrs/high"]["any_risk"]["support"] == sum(
        1 for u in development(users) if u["labels"]["risk"])
    assert set(model.heads) >= {RiskCategory.suicidal_ideation, RiskCategory.self_harm}
