"""MITI turn codes, summary scores and rubrics as data, specified by what the offline analyzer returns."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.analysis.miti.measures import MEASURES, score_rubric
from vigil.analysis.miti.miti import (
    ARTIFACTS,
    MODELS_DIR,
    QUALITY_ARTIFACT,
    SESSION_FEATURES,
    MitiModels,
    QualityModel,
    miti_counts,
)
from vigil.analysis.miti.rubric import DEFAULT_RUBRIC_FILE, load_default_rubric, load_rubric
from vigil.analysis.text.turns import read_turns
from vigil.errors import ValidationFailure
from vigil.schemas.analysis import RiskAssessment, RubricDefinition, RubricItem, TurnCode
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics

REPO = Path(__file__).resolve().parents[2]


def transcript(*turns: tuple[str | None, str]) -> AgentTranscript:
    segments = [Segment(index=i, start=5.0 * i, end=5.0 * (i + 1), text=text, speaker=speaker)
                for i, (speaker, text) in enumerate(turns)]
    text = " ".join(s.text for s in segments)
    return AgentTranscript(session_id=uuid.uuid4(), provider="test", language="en", duration=5.0 * len(segments),
                           text=text, segments=segments,
                           metrics=TranscriptMetrics(word_count=len(text.split()), duration_seconds=5.0 * len(segments),
                                                     speaking_rate_wpm=0.0, mean_confidence=None,
                                                     low_confidence_share=None))


def assess(*turns: tuple[str | None, str], rubric: RubricDefinition | None = None) -> RiskAssessment:
    return OfflineAnalyzer().assess(transcript(*turns), rubric)


def code(behaviour: str, subtype: str | None = None, index: int = 0) -> TurnCode:
    return TurnCode(segment_index=index, behaviour=behaviour, subtype=subtype)  # type: ignore[arg-type]


DIALOGUE = (
    ("counselor", "What brings you in today?"),
    ("client", "My wife says I drink too much, so here I am."),
    ("counselor", "Do you drink every day?"),
    ("client", "I've been drinking every night since I lost my job."),
    ("counselor", "You've been drinking every night since you lost your job."),
    ("client", "Yeah. I don't really know what to do about it."),
    ("counselor", "You should cut down to two drinks a day. Drinking every night can damage your liver."),
)


# ---------------------------------------------------------------- turn codes
def test_plain_counselor_turns_get_their_miti_codes() -> None:
    result = assess(*DIALOGUE)

    assert [(c.segment_index, c.behaviour, c.subtype) for c in result.turn_codes] == [
        (0, "question", "open"),
        (2, "question", "closed"),
        (4, "reflection", "simple"),
        (6, "therapist_input", None),
    ]
    assert all(c.confidence is not None and 0.0 < c.confidence <= 1.0 for c in result.turn_codes)


def test_only_counselor_turns_are_coded() -> None:
    result = assess(("client", "I want to stop smoking."), ("client", "It is hard."))

    assert result.turn_codes == []
    assert result.miti is not None and result.miti.questions == result.miti.reflections == 0
    assert result.miti.mi_quality is None, "no counselor turns, nothing to judge"


def test_assessment_carries_the_miti_summary_of_its_own_codes() -> None:
    result = assess(*DIALOGUE)

    assert result.miti is not None
    counted = miti_counts(result.turn_codes)
    assert result.miti.model_dump(exclude={"mi_quality", "mi_quality_confidence"}) == counted.model_dump(
        exclude={"mi_quality", "mi_quality_confidence"})
    assert result.miti.mi_quality in ("high", "low")
    assert result.miti.mi_quality_confidence is not None and 0.5 <= result.miti.mi_quality_confidence <= 1.0


# ---------------------------------------------------------------- summary scores
def test_miti_summary_scores_follow_from_the_codes() -> None:
    codes = [code("question", "open"), code("question", "closed"), code("question", "open"), code("question", "open"),
             code("reflection", "complex"), code("reflection", "simple"), code("reflection", "complex"),
             code("reflection", "complex"), code("reflection", "simple"), code("reflection", "simple"),
             code("therapist_input"), code("other"), code("other")]

    scores = miti_counts(codes)

    assert (scores.questions, scores.open_questions, scores.reflections, scores.complex_reflections) == (4, 3, 6, 3)
    assert (scores.therapist_input, scores.other) == (1, 2)
    assert scores.reflection_to_question == 1.5
    assert scores.percent_complex_reflections == 50.0
    assert scores.percent_open_questions == 75.0


def test_ratios_without_a_denominator_are_none_not_zero() -> None:
    scores = miti_counts([code("reflection", "simple"), code("other")])

    assert scores.reflection_to_question is None
    assert scores.percent_open_questions is None
    assert scores.percent_complex_reflections == 0.0


def test_mi_quality_is_high_only_from_the_models_threshold() -> None:
    features = dict.fromkeys(SESSION_FEATURES, 1.0)

    def quality(intercept: float, threshold: float) -> QualityModel:
        zeros = np.zeros(len(SESSION_FEATURES))
        return QualityModel(features=SESSION_FEATURES, mean=zeros, scale=np.ones(len(SESSION_FEATURES)), coef=zeros,
                            intercept=intercept, threshold=threshold, meta={})

    assert quality(0.0, 0.5).verdict(features) == ("high", 0.5)  # P(high) = 0.5 reaches the threshold
    assert quality(0.0, 0.6).verdict(features) == ("low", 0.5)
    verdict, confidence = quality(2.0, 0.5).verdict(features)
    assert verdict == "high" and confidence == pytest.approx(0.8808, abs=1e-4)


def test_quality_model_survives_saving(tmp_path: Path) -> None:
    model = QualityModel(features=("a", "b"), mean=np.array([1.0, 2.0]), scale=np.array([2.0, 4.0]),
                         coef=np.array([0.5, -1.5]), intercept=0.25, threshold=0.35, meta={"cv": {"folds": 5}})
    model.save(tmp_path / "q.json.gz")

    loaded = QualityModel.load(tmp_path / "q.json.gz")

    values = {"a": 3.0, "b": -1.0}
    assert loaded.probability_high(values) == pytest.approx(model.probability_high(values), abs=1e-9)
    assert (loaded.threshold, loaded.meta) == (0.35, {"cv": {"folds": 5}})


# ---------------------------------------------------------------- rubrics as data
def test_default_rubric_is_miti_4_2_1_and_every_measure_it_names_exists() -> None:
    rubric = load_default_rubric()

    assert rubric.name == "MITI 4.2.1"
    keys = [item.key for item in rubric.items]
    assert {"reflection_to_question", "complex_reflections", "partnership", "empathy", "safety_follow_up"} <= set(keys)
    assert len(keys) == len(set(keys))
    for item in rubric.items:
        assert item.measure is None or item.measure in MEASURES
        assert item.thresholds is None or item.thresholds == sorted(item.thresholds)
    reflections = next(item for item in rubric.items if item.key == "reflection_to_question")
    assert reflections.thresholds is not None and {1.0, 2.0} <= set(reflections.thresholds)  # MITI fair, good


def test_offline_analyzer_names_the_default_rubric_as_its_own() -> None:
    assert OfflineAnalyzer.default_rubric == load_default_rubric()


def test_analyzer_scores_the_default_rubric_items_it_can_measure() -> None:
    result = assess(*DIALOGUE)

    measurable = [item.key for item in load_default_rubric().items if item.measure and item.key != "safety_follow_up"]
    assert [score.key for score in result.rubric] == measurable
    assert all(1 <= score.score <= score.scale_max == 5 for score in result.rubric)
    ratio = next(score for score in result.rubric if score.key == "reflection_to_question")
    assert ratio.rationale == "1 reflections to 2 questions (reflection:question 0.5:1)."
    assert ratio.score == 2


def test_custom_rubric_is_scored_by_its_definition() -> None:
    rubric = RubricDefinition(name="clinic", items=[
        RubricItem(key="asks_openly", label="Asks openly", description="Share of open questions.", scale_min=1,
                   scale_max=10, measure="percent_open_questions", thresholds=[10, 20, 30, 40, 45, 50, 60, 70, 80]),
        RubricItem(key="warmth", label="Warmth", description="Judged by a model.", measure="warmth_index"),
        RubricItem(key="few_lectures", label="Few lectures", description="Little telling.", scale_min=0,
                   scale_max=3, measure="telling_share", thresholds=[0.1, 0.25, 0.5], higher_is_better=False),
    ])

    result = assess(*DIALOGUE, rubric=rubric)

    scores = {score.key: score for score in result.rubric}
    assert set(scores) == {"asks_openly", "few_lectures"}, "an unknown measure is left to a model analyzer"
    # 50 % open reaches six thresholds: 1 + 6 on a 1..10 scale.
    assert (scores["asks_openly"].score, scores["asks_openly"].scale_max) == (7, 10)
    assert scores["asks_openly"].rationale == "1 of 2 counselor questions were open (50%)."
    # 1 of 4 turns told (0.25): at or below two of the thresholds, 0 + 2 on a 0..3 scale.
    assert (scores["few_lectures"].score, scores["few_lectures"].scale_max) == (2, 3)


def test_measures_read_the_given_codes() -> None:
    rubric = RubricDefinition(name="codes", items=[
        RubricItem(key="ratio", label="R:Q", description="d", measure="reflection_to_question", thresholds=[1, 2]),
        RubricItem(key="complex", label="%CR", description="d", measure="percent_complex_reflections",
                   thresholds=[40, 50]),
        RubricItem(key="open", label="%OQ", description="d", measure="percent_open_questions", thresholds=[50]),
    ])
    turns = read_turns(transcript(*DIALOGUE).segments)
    only_reflections = [code("reflection", "complex", 0), code("reflection", "simple", 2),
                        code("reflection", "complex", 4)]

    scores = {s.key: s for s in score_rubric(rubric, turns, only_reflections, [])}

    assert set(scores) == {"ratio", "complex"}, "no questions: nothing to say about open ones"
    assert (scores["ratio"].score, scores["ratio"].rationale) == (3, "3 reflections to 0 questions.")
    assert (scores["complex"].score, scores["complex"].rationale) == (3, "2 of 3 reflections were complex (67%).")


def test_safety_item_is_scored_only_when_a_risk_was_flagged() -> None:
    rubric = load_default_rubric()
    calm = read_turns(transcript(("client", "Work is fine."), ("counselor", "What else is going on?")).segments)
    risky = transcript(("client", "Some nights I want to die."),
                       ("counselor", "Are you thinking about suicide right now? Who could you call tonight?"))

    assert "safety_follow_up" not in {s.key for s in score_rubric(rubric, calm, [], [])}
    safety = next(s for s in OfflineAnalyzer().assess(risky).rubric if s.key == "safety_follow_up")
    assert safety.score == 3
    assert safety.rationale.startswith("2 counselor sentences about safety")


def test_rubric_with_descending_thresholds_is_rejected() -> None:
    rubric = RubricDefinition(name="bad", items=[RubricItem(key="x", label="X", description="d",
                                                            measure="telling_share", thresholds=[0.5, 0.1])])

    with pytest.raises(ValidationFailure, match="ascending"):
        assess(*DIALOGUE, rubric=rubric)


def test_rubric_file_that_is_not_a_definition_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps({"name": "empty", "items": []}))

    with pytest.raises(ValidationFailure, match="not a rubric definition"):
        load_rubric(path)


def test_default_rubric_file_is_the_one_loaded() -> None:
    assert load_default_rubric() == RubricDefinition.model_validate_json(DEFAULT_RUBRIC_FILE.read_text())


# ---------------------------------------------------------------- shipped artifacts and their rebuild
def test_shipped_artifacts_are_small_and_record_cross_validated_figures() -> None:
    sizes = {name: (MODELS_DIR / name).stat().st_size for name in ARTIFACTS}
    assert sum(sizes.values()) < 1_000_000, sizes
    for name in ARTIFACTS:
        meta = json.loads(gzip.decompress((MODELS_DIR / name).read_bytes()))["meta"]
        assert meta["cv"]["folds"] == 5
        assert len(meta["data"]["sha256"]) == 64
        assert meta["cv"]["behaviour"]["macro_f1"] > 0.5


SYNTHETIC_TOPICS = ("drinking", "smoking", "gambling", "eating", "sleeping", "vaping", "spending", "gaming",
                    "running", "working")


def synthetic_session(number: int, quality: str) -> dict[str, object]:
    topic = SYNTHETIC_TOPICS[number]
    turns: list[tuple[str, str, dict[str, str]]] = [
        ("counselor", f"What brings you here today about {topic}?", {"behaviour": "question", "question": "open"}),
        ("client", f"My family says my {topic} is a problem.", {}),
        ("counselor", f"Do you think your {topic} is a problem?", {"behaviour": "question", "question": "closed"}),
        ("client", f"Maybe, the {topic} takes a lot of my evenings.", {}),
        ("counselor", f"The {topic} takes your evenings.", {"behaviour": "reflection", "reflection": "simple"}),
        ("client", "Yes and I feel tired.", {}),
        ("counselor", "Part of you wants more energy for the people you love.",
         {"behaviour": "reflection", "reflection": "complex"}),
        ("client", "I guess so.", {}),
        ("counselor", f"You should stop {topic}, it is bad for your health.", {"behaviour": "therapist_input"}),
        ("client", "Okay.", {}),
        ("counselor", "Okay.", {"behaviour": "other"}),
    ]
    if quality == "low":
        turns += [("client", "Right.", {}),
                  ("counselor", f"Most people who keep {topic} regret it, you need to cut down now.",
                   {"behaviour": "therapist_input"}),
                  ("client", "Fine.", {}),
                  ("counselor", "Did you hear what I said?", {"behaviour": "question", "question": "closed"})]
    else:
        turns += [("client", f"I could try less {topic} on weekdays.", {}),
                  ("counselor", "How would that fit with what matters to you?",
                   {"behaviour": "question", "question": "open"}),
                  ("client", "It would give me time with my kids.", {}),
                  ("counselor", "Time with your kids matters a great deal to you.",
                   {"behaviour": "reflection", "reflection": "complex"})]
    return {"id": f"synthetic-{number}", "source": "test",
            "turns": [{"speaker": speaker, "text": text} for speaker, text, _ in turns],
            "labels": {"risk": [], "mi_quality": quality,
                       "turns": [{"index": i, **label} for i, (_, _, label) in enumerate(turns) if label]}}


@dataclass(frozen=True)
class Rebuild:
    data: Path
    out: Path
    run: subprocess.CompletedProcess[str]


def rebuild(data_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "fit_miti_model.py"), "--data-dir", str(data_dir),
                           "--out", str(out), "--folds", "2"], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Rebuild:
    root = tmp_path_factory.mktemp("rebuild")
    data = root / "data" / "annomi" / "annomi-dev.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text("".join(json.dumps(synthetic_session(n, "high" if n < 6 else "low")) + "\n" for n in range(10)))
    return Rebuild(data, root / "models", rebuild(root / "data", root / "models"))


def test_rebuild_script_writes_loadable_artifacts_with_their_figures(rebuilt: Rebuild) -> None:
    assert rebuilt.run.returncode == 0, rebuilt.run.stderr
    assert "macro-F1" in rebuilt.run.stdout and "kappa" in rebuilt.run.stdout
    assert sorted(p.name for p in rebuilt.out.iterdir()) == sorted(ARTIFACTS)
    models = MitiModels.load(rebuilt.out)
    quality = QualityModel.load(rebuilt.out / QUALITY_ARTIFACT)
    assert quality.meta["data"]["sha256"] == hashlib.sha256(rebuilt.data.read_bytes()).hexdigest()
    assert quality.meta["cv"]["folds"] == 2 and quality.meta["cv"]["mi_quality"]["sessions"] == 10
    assert models.coder.behaviour.meta["cv"] == models.session_text.meta["cv"] == quality.meta["cv"]
    assert set(models.coder.behaviour.classes) == {"question", "reflection", "therapist_input", "other"}
    codes, miti = models.assess(read_turns(transcript(("counselor", "What brings you here today about drinking?"),
                                                      ("client", "My family says my drinking is a problem.")).segments))
    assert [code.segment_index for code in codes] == [0]
    assert miti.mi_quality in ("high", "low")


def test_rebuild_gives_the_same_bytes_from_the_same_data(rebuilt: Rebuild, tmp_path: Path) -> None:
    again = rebuild(rebuilt.data.parents[1], tmp_path / "models")

    assert again.returncode == 0, again.stderr
    for name in ARTIFACTS:
        assert (tmp_path / "models" / name).read_bytes() == (rebuilt.out / name).read_bytes(), name
