"""The fitted risk model beside the rules, specified by the flags a supervisor would see."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.analysis.risk_detection import combine_flags, detect_risks, find_risk_hits, flags_from_hits
from vigil.analysis.risk_model import MODEL_PATH, ClientTalk, RiskModel, shipped_model
from vigil.analysis.turns import Turn, read_turns
from vigil.schemas import RiskCategory, RiskFlag, Segment

REPO = Path(__file__).resolve().parents[2]
SECONDS_PER_TURN = 6.0

# Ordinary client talk, long enough that the model reads the session (it abstains on a few words).
DAILY_LIFE = (
    "I have been working nights at the warehouse since the spring and I hardly see my kids anymore. "
    "My sister keeps telling me to take a break but the rent went up again and the car needs new tyres. "
    "I used to play football on Sundays with some mates from school but I stopped going after the injury."
)
# Suicidal ideation in words no rule spells out.
UNSPOKEN_IDEATION = (
    "It is. Honestly I don't see the point of any of it anymore. I keep thinking everyone would be fine if I "
    "was gone. I'm so tired of being alive and being a burden on everyone.",
    "I've been looking at the bridge on my way home and thinking about how easy it would be. Nobody would even "
    "notice. I just want the pain to stop for good.",
)


def segments_of(*spoken: tuple[str, str]) -> list[Segment]:
    return [Segment(index=i, start=i * SECONDS_PER_TURN, end=(i + 1) * SECONDS_PER_TURN, text=text, speaker=speaker)
            for i, (speaker, text) in enumerate(spoken)]


def turns_of(*spoken: tuple[str, str]) -> list[Turn]:
    return read_turns(segments_of(*spoken))


def flag_for(flags: list[RiskFlag], category: RiskCategory) -> RiskFlag | None:
    return next((flag for flag in flags if flag.category is category), None)


def model_reads(turns: list[Turn]) -> bool:
    return shipped_model().assess(turns, find_risk_hits(turns)) is not None


def long_enough_for_the_model(turns: list[Turn]) -> bool:
    """So that what keeps a session unflagged is the model's judgement, not its minimum length."""
    return ClientTalk.of(turns).words >= shipped_model().min_client_words


def implicit_ideation_session(ideation_speaker: str = "client") -> list[Segment]:
    listener = "counselor" if ideation_speaker == "client" else "client"
    spoken = [("counselor", "What has this week been like for you?"), ("client", DAILY_LIFE)]
    for said in UNSPOKEN_IDEATION:
        spoken += [(listener, "Mm. Tell me more."), (ideation_speaker, said)]
    return segments_of(*spoken)


# ---------------------------------------------------------------- disclosures are caught, with quotes
def test_plain_disclosure_in_a_dialogue_is_flagged_with_its_segment_and_times() -> None:
    turns = turns_of(
        ("counselor", "What has this week been like for you?"),
        ("client", DAILY_LIFE),
        ("counselor", "That sounds exhausting."),
        ("client", "It is. Some nights I want to die. I have been thinking about killing myself."),
    )

    flag = flag_for(detect_risks(turns), RiskCategory.suicidal_ideation)

    assert flag is not None
    assert {(e.segment_index, e.start, e.end) for e in flag.evidence} == {(3, 18.0, 24.0)}
    assert all(e.quote in turns[3].segment.text for e in flag.evidence)


def test_model_flags_ideation_no_rule_spells_out_and_quotes_the_clients_sentences() -> None:
    turns = read_turns(implicit_ideation_session())
    assert flag_for(flags_from_hits(find_risk_hits(turns)), RiskCategory.suicidal_ideation) is None

    flag = flag_for(detect_risks(turns), RiskCategory.suicidal_ideation)

    assert flag is not None
    assert flag.rationale.startswith("Text model")
    assert 1 <= len(flag.evidence) <= 3
    for evidence in flag.evidence:
        segment = turns[evidence.segment_index].segment
        assert segment.speaker == "client"
        assert evidence.quote in segment.text
        assert (evidence.start, evidence.end) == (segment.start, segment.end)
    assert "I keep thinking everyone would be fine if I was gone." in {e.quote for e in flag.evidence}


def test_model_only_flag_takes_severity_and_confidence_from_its_probability() -> None:
    turns = read_turns(implicit_ideation_session())
    probability = shipped_model().assess(turns, find_risk_hits(turns))

    flag = flag_for(detect_risks(turns), RiskCategory.suicidal_ideation)

    assert probability is not None and flag is not None
    assert flag.confidence == round(probability.any_risk, 2)
    assert flag.severity.value == ("medium" if probability.any_risk >= 0.8 else "low")


# ---------------------------------------------------------------- hard negatives stay unflagged
@pytest.mark.parametrize(
    "supportive",
    [
        "She has been having a really hard time since her mum died, so I told her: please don't kill yourself, you "
        "matter. You matter to me and to your family, and there are people who love you and want you to stay. It "
        "does get better, I promise you it does. Call the helpline tonight if it gets bad, or call me any time, day "
        "or night. You deserve to be happy, and I will keep checking in on you every day this week. We are going to "
        "the cinema on Saturday with her brother, and I have asked her to come round for dinner on Sunday too.",
        "He told me he has been thinking about ending it. I told him that I used to think about suicide but therapy "
        "helped me and I want to help you. I said you are not alone and there is no shame in asking for help. We "
        "looked up a counsellor near his flat and I offered to go with him to the first appointment. He said he "
        "would think about it, and I believe he will. I just want him to know somebody cares about him and that "
        "things can change, because they did for me. We are meeting for coffee on Thursday after his shift ends.",
    ],
)
def test_supportive_talk_about_suicide_is_not_flagged(supportive: str) -> None:
    turns = turns_of(("counselor", "You said you've been talking to your friend a lot?"), ("client", supportive))
    assert long_enough_for_the_model(turns)

    assert detect_risks(turns) == []


def test_harmless_uses_of_dying_killing_and_cutting_are_not_flagged() -> None:
    turns = turns_of(
        ("counselor", "How has the drinking been going since we last met?"),
        ("client", "Better, I think. I'm cutting back on drinking during the week, just a couple of beers on "
                   "Friday. My parents would kill me if they found out how much I was drinking before. My doctor "
                   "says my liver numbers are a bit high, and I don't want to die young like my uncle did from "
                   "drinking. Oscar is gonna make me die? No, he's my dog, he just wakes me up at five every "
                   "morning. I've been going to the gym and cutting down on takeaways too. My wife says I'm killing "
                   "myself with all the overtime, but the money is good."),
        ("counselor", "It sounds like you're making real changes."),
        ("client", "Yeah. I want to be around to see my kids grow up, that's the main thing."),
    )
    assert long_enough_for_the_model(turns)

    assert detect_risks(turns) == []


@pytest.mark.parametrize(
    "harmless",
    [
        # Figures of speech packed together, in the first person.
        "Honestly the stress is killing me. My doctor says smoking will kill me eventually. My wife says I'm killing "
        "myself with all the overtime. I nearly died laughing at the film on Friday. The plant on my windowsill is "
        "dead again. I'm cutting down on sugar and cutting back on drinking. My parents would kill me if they knew "
        "how much I spent. I'm bored to death at work and I'm dying to go on holiday. I don't want to die young like "
        "my uncle did, so I went for a run this morning and booked a check-up with the nurse at the surgery for next "
        "Tuesday, after I drop the kids at school.",
        # Grief: someone else's death, told in the first person.
        "My dad died last spring and I still think about him every day. He was sick for a long time and in the end "
        "the cancer killed him. I was with him when he died. I keep his watch in my drawer and I wear it on his "
        "birthday. My mum is alone in the house now, so I go round on Sundays and we cook his recipes together. "
        "Some days I cry in the car on the way to work, but mostly I feel grateful for the time we had. My sister "
        "and I are planning a walk along his favourite stretch of the coast in the summer.",
    ],
)
def test_first_person_talk_of_other_deaths_and_figures_of_speech_is_not_flagged(harmless: str) -> None:
    turns = turns_of(("counselor", "How have things been since we last met?"), ("client", harmless))
    assert long_enough_for_the_model(turns)

    assert detect_risks(turns) == []


def test_counselor_screening_question_alone_is_not_flagged() -> None:
    turns = turns_of(
        ("counselor", "Have you thought about killing yourself?"),
        ("client", "No, nothing like that. " + DAILY_LIFE),
        ("counselor", "Are you having thoughts of ending your life? Have you ever tried to hurt yourself?"),
        ("client", "No. I just need some help sorting out my shifts so I can sleep and see my kids more."),
    )

    assert detect_risks(turns) == []


def test_the_model_never_reads_the_counselors_words() -> None:
    from_client = read_turns(implicit_ideation_session("client"))
    from_counselor = read_turns(implicit_ideation_session("counselor"))
    assert [t.segment.text for t in from_client] == [t.segment.text for t in from_counselor]

    assert flag_for(detect_risks(from_client), RiskCategory.suicidal_ideation) is not None
    assert detect_risks(from_counselor) == []


def test_a_few_words_are_left_to_the_rules() -> None:
    turns = turns_of(("counselor", "How are things?"), ("client", UNSPOKEN_IDEATION[0]))

    assert not model_reads(turns)


# ---------------------------------------------------------------- the artifact
def test_shipped_model_is_small_and_says_how_it_was_measured() -> None:
    meta = shipped_model().text.meta

    assert MODEL_PATH.stat().st_size < 500_000
    cssrs = meta["cross_validated"]["cssrs"]
    assert {"any", "suicidal_ideation", "self_harm"} <= set(cssrs)
    assert cssrs["any"]["tp"] + cssrs["any"]["fn"] == cssrs["any"]["support"] > 0
    assert meta["cross_validated"]["annomi"]["any"]["support"] > 0
    assert all(len(digest) == 64 for digest in meta["data"].values())
    assert meta["params"]["folds"] >= 2


def test_detection_runs_without_scikit_learn() -> None:
    script = (
        "import json, sys; sys.modules['sklearn'] = None\n"  # any import of scikit-learn now fails
        "from vigil.analysis.risk_detection import detect_risks\n"
        "from vigil.analysis.turns import read_turns\n"
        "from vigil.schemas import Segment\n"
        "segments = [Segment.model_validate(s) for s in json.load(sys.stdin)]\n"
        "print(sorted(flag.category.value for flag in detect_risks(read_turns(segments))))\n"
    )
    segments = json.dumps([s.model_dump() for s in implicit_ideation_session()])
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, input=segments, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr
    assert "suicidal_ideation" in done.stdout


# ---------------------------------------------------------------- rebuilding it
_SUPPORT = ["You matter and people care about you.", "Please talk to someone you trust tonight.",
            "It does get better, I promise you.", "Have you tried calling a helpline?",
            "Please don't kill yourself, your family needs you.", "I felt hopeless for years."]
_IDEATION = ["I want to die.", "I think about suicide every single day.", "Nobody would miss me if I was gone.",
             "I feel hopeless and I don't want to live anymore.", "I wish I could sleep and never wake up."]
_BEHAVIOR = ["I cut myself again last night.", "I tried to kill myself in March.", "I took all my pills last year.",
             "I have scars on my wrists from cutting.", "I wrote a note and bought a rope."]
_DAILY = ["Work was busy again today.", "I went for a long walk with the dog.", "My sister came round for dinner.",
          "The bus was late so I missed the start.", "We watched a film and ordered pizza.",
          "I'm cutting back on drinking during the week."]


def _synthetic_data(root: Path) -> None:
    rng = random.Random(7)

    def posts(pool: list[str]) -> list[dict[str, str]]:
        return [{"speaker": "client", "text": " ".join(rng.sample(pool, 2) + rng.sample(_DAILY, 3))}
                for _ in range(6)]

    kinds = [("Supportive", [], _SUPPORT), ("Ideation", ["suicidal_ideation"], _IDEATION),
             ("Behavior", ["suicidal_ideation", "self_harm"], _BEHAVIOR)]
    cssrs = [{"id": f"u{level}{n}", "turns": posts(pool), "labels": {"risk": risk, "cssrs": level}}
             for level, risk, pool in kinds for n in range(8)]
    annomi = [{"id": f"a{n}", "turns": [{"speaker": "counselor", "text": "How has the week been?", "start": 0.0},
                                        {"speaker": "client", "text": " ".join(rng.sample(_DAILY, 5) * 3),
                                         "start": 3.0}],
               "labels": {"risk": []}} for n in range(4)]
    for folder, sessions in (("cssrs/cssrs-dev.jsonl", cssrs), ("annomi/annomi-dev.jsonl", annomi)):
        path = root / folder
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(session) + "\n" for session in sessions))


def test_rebuild_script_writes_a_loadable_artifact_with_its_figures(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    _synthetic_data(tmp_path / "data")
    out = tmp_path / "risk-test.json.gz"

    done = subprocess.run(
        [sys.executable, "scripts/fit_risk_model.py", "--data-dir", str(tmp_path / "data"), "--out", str(out),
         "--folds", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert "cross-validated" in done.stdout
    model = RiskModel.load(out)
    meta = model.text.meta
    assert meta["data"]["cssrs/cssrs-dev.jsonl"] == hashlib.sha256(
        (tmp_path / "data" / "cssrs/cssrs-dev.jsonl").read_bytes()).hexdigest()
    assert meta["cross_validated"]["cssrs"]["any"]["support"] == 16
    assert meta["params"]["folds"] == 2
    turns = read_turns(implicit_ideation_session())
    assert isinstance(combine_flags(turns, find_risk_hits(turns), model), list)
