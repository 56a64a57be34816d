"""The offline analyzer, specified by what a supervisor would see in its result."""

from __future__ import annotations

import uuid

import pytest

from vigil.analysis.analyzers.base import Analyzer
from vigil.analysis.analyzers.offline import PROMPT_VERSION, OfflineAnalyzer
from vigil.schemas.analysis import AnalysisResult, RiskFlag
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics

Turn = tuple[str | None, str]


def transcript(*turns: Turn, seconds_per_turn: float = 5.0) -> AgentTranscript:
    segments = [
        Segment(index=i, start=i * seconds_per_turn, end=(i + 1) * seconds_per_turn, text=text, speaker=speaker)
        for i, (speaker, text) in enumerate(turns)
    ]
    text = " ".join(segment.text for segment in segments)
    duration = len(segments) * seconds_per_turn
    return AgentTranscript(
        session_id=uuid.uuid4(),
        provider="test",
        language="en",
        duration=duration,
        text=text,
        segments=segments,
        metrics=TranscriptMetrics(
            word_count=len(text.split()),
            duration_seconds=duration,
            speaking_rate_wpm=0.0,
            mean_confidence=None,
            low_confidence_share=None,
        ),
    )


def analyze(*turns: Turn) -> AnalysisResult:
    return OfflineAnalyzer().analyze(transcript(*turns))


def client_says(text: str) -> AnalysisResult:
    return analyze(("counselor", "What has this week been like for you?"), ("client", text))


def has_flag(result: AnalysisResult, category: RiskCategory) -> bool:
    return any(flag.category is category for flag in result.flags)


def flag_for(result: AnalysisResult, category: RiskCategory) -> RiskFlag:
    flag = next((flag for flag in result.flags if flag.category is category), None)
    assert flag is not None, f"no {category.value} flag in {result.flags}"
    return flag


# ---------------------------------------------------------------- disclosures are caught
@pytest.mark.parametrize(
    ("disclosure", "category"),
    [
        ("I have been thinking about killing myself.", RiskCategory.suicidal_ideation),
        ("I want to die.", RiskCategory.suicidal_ideation),
        ("Honestly I don't want to live anymore.", RiskCategory.suicidal_ideation),
        ("Everyone would be better off without me.", RiskCategory.suicidal_ideation),
        ("I cut myself last night.", RiskCategory.self_harm),
        ("I'm going to hurt him.", RiskCategory.harm_to_others),
        ("My partner hits me.", RiskCategory.abuse_disclosure),
        ("He touched me when I was a kid.", RiskCategory.abuse_disclosure),
        ("I overdosed last week.", RiskCategory.substance_crisis),
    ],
)
def test_plain_disclosure_is_flagged_in_its_category(disclosure: str, category: RiskCategory) -> None:
    result = client_says(disclosure)

    assert has_flag(result, category)
    assert result.risk_level is not RiskLevel.none


def test_means_and_plan_make_suicidal_ideation_high() -> None:
    result = client_says("I've saved up pills and I know when I'd take them.")

    assert flag_for(result, RiskCategory.suicidal_ideation).severity is RiskLevel.high
    assert result.risk_level is RiskLevel.high


def test_passive_death_wish_is_medium() -> None:
    result = client_says("Everyone would be better off without me.")

    assert flag_for(result, RiskCategory.suicidal_ideation).severity is RiskLevel.medium


def test_intent_with_a_time_frame_is_high() -> None:
    result = client_says("I'm going to kill myself tonight.")

    assert flag_for(result, RiskCategory.suicidal_ideation).severity is RiskLevel.high


def test_self_harm_described_as_past_is_still_flagged_but_lower() -> None:
    result = client_says("I used to cut myself when I was a teenager.")

    assert flag_for(result, RiskCategory.self_harm).severity is RiskLevel.low


def test_negation_in_an_earlier_clause_does_not_hide_a_disclosure() -> None:
    result = client_says("I never told anyone this, but I want to die.")

    assert has_flag(result, RiskCategory.suicidal_ideation)


def test_not_being_able_to_stop_thinking_about_it_is_a_disclosure_not_a_denial() -> None:
    result = client_says("I can't stop thinking about killing myself.")

    assert has_flag(result, RiskCategory.suicidal_ideation)


def test_client_question_about_killing_themself_is_a_disclosure() -> None:
    result = analyze((None, "Should I just kill myself?"))

    assert has_flag(result, RiskCategory.suicidal_ideation)


# ---------------------------------------------------------------- harmless language is left alone
HARMLESS = [
    "My boss would kill me if I missed another deadline.",
    "My parents would kill me.",
    "I'm cutting back on drinking.",
    "This traffic is killing me.",
    "I could kill for a coffee.",
    "I'm dying to see it.",
    "I'm killing myself trying to finish this project.",
    "I hurt myself at the gym.",
    "It hit me that I need to change.",
    "I'm not sure if I want to live with my auntie and uncle.",
    "Please don't kill yourself, your family would miss you.",
    "I know how it feels to want to die.",
]
# Said alone, as the whole of a session, these one-liners are flagged by the sentence model at the recall-first
# `high` sensitivity (docs/risk-detection.md, "What it gets wrong"): known false flags, kept visible here. Strict,
# so a model that stops flagging one fails this list until it is updated.
KNOWN_MODEL_FALSE_FLAGS = {
    "I'm killing myself trying to finish this project.", "I hurt myself at the gym.",
    "It hit me that I need to change.", "I'm not sure if I want to live with my auntie and uncle.",
    "Please don't kill yourself, your family would miss you.", "I know how it feels to want to die.",
    "I would never hurt myself.",
}


def _known(text: str):  # type: ignore[no-untyped-def]
    reason = "the sentence model at `high` flags this one-liner (a known false flag)"
    return pytest.param(text, marks=pytest.mark.xfail(strict=True, reason=reason)) if text in \
        KNOWN_MODEL_FALSE_FLAGS else text


@pytest.mark.parametrize("harmless", [*HARMLESS, "I would never hurt myself."])
def test_the_rules_read_figures_of_speech_and_denials_as_harmless(harmless: str) -> None:
    from vigil.analysis.risk.risk_detection import find_risk_hits
    from vigil.analysis.text.turns import read_turns

    turns = read_turns(transcript(("counselor", "What has this week been like for you?"),
                                  ("client", harmless)).segments)
    assert find_risk_hits(turns) == []


@pytest.mark.parametrize("harmless", [_known(text) for text in HARMLESS])
def test_figure_of_speech_raises_no_flag(harmless: str) -> None:
    result = client_says(harmless)

    assert result.flags == []
    assert result.risk_level is RiskLevel.none


@pytest.mark.parametrize("denial", [_known("I would never hurt myself.")])
def test_denial_raises_no_flag(denial: str) -> None:
    result = client_says(denial)

    assert result.flags == []


def test_counselor_screening_question_alone_raises_no_flag() -> None:
    result = analyze(
        ("counselor", "Are you having thoughts of ending your life?"),
        ("client", "No. Work has just been busy."),
    )

    assert result.flags == []


def test_screening_question_from_an_unknown_speaker_raises_no_flag() -> None:
    result = analyze((None, "Are you having thoughts of ending your life?"), (None, "No, not at all."))

    assert result.flags == []


def test_counselor_reflection_counts_as_evidence_but_with_less_confidence() -> None:
    reflected = analyze(("counselor", "You told me that you've been cutting yourself again."))
    disclosed = analyze(("client", "I've been cutting myself again."))

    reflected_flag = flag_for(reflected, RiskCategory.self_harm)
    assert reflected_flag.confidence < flag_for(disclosed, RiskCategory.self_harm).confidence


# ---------------------------------------------------------------- evidence
def test_evidence_quotes_are_verbatim_substrings_of_the_segment_they_cite() -> None:
    turns: list[Turn] = [
        ("counselor", "How have things been since we last met?"),
        ("client", "Honestly? Not good. I've saved up pills, and some nights I think everyone would be "
                   "better off without me."),
        ("counselor", "That sounds incredibly heavy. Thank you for telling me."),
        ("client", "My partner hits me when he drinks, and I cut myself last night."),
    ]
    result = analyze(*turns)

    assert len(result.flags) >= 3
    for flag in result.flags:
        for evidence in flag.evidence:
            assert evidence.quote in turns[evidence.segment_index][1]


def test_evidence_carries_the_cited_segment_times() -> None:
    result = OfflineAnalyzer().analyze(
        transcript(("counselor", "How are you?"), ("client", "I want to die."), seconds_per_turn=4.0)
    )

    evidence = flag_for(result, RiskCategory.suicidal_ideation).evidence[0]
    assert (evidence.segment_index, evidence.start, evidence.end) == (1, 4.0, 8.0)
    assert evidence.quote == "I want to die."


def test_long_sentence_is_quoted_around_the_disclosure_and_stays_verbatim() -> None:
    text = ("So the thing is that work has been relentless for months now and my manager keeps piling "
            "more onto my desk every single week without asking how any of it is going, and lately I have "
            "been thinking about killing myself, which scares me, because I have never felt like this in my "
            "life before and I do not know who else to tell about it at all.")
    result = client_says(text)

    quote = flag_for(result, RiskCategory.suicidal_ideation).evidence[0].quote
    assert "thinking about killing myself" in quote
    assert quote in text
    assert len(quote) < len(text)


def test_session_risk_level_is_the_highest_flag_severity() -> None:
    result = analyze(("client", "I feel hopeless."), ("client", "I've saved up pills."))

    assert result.risk_level is max((f.severity for f in result.flags), key=lambda level: level.rank)
    assert result.risk_level is RiskLevel.high


# ---------------------------------------------------------------- speakers
def test_anonymous_labels_treat_the_questioning_speaker_as_counselor() -> None:
    result = analyze(
        ("A", "What brings you in today?"),
        ("B", "My sister made me come."),
        ("A", "How do you feel about being here?"),
        ("B", "Fine I guess. I just feel tired all the time."),
        ("A", "What would you like to be different?"),
        ("B", "Everything."),
    )

    open_questions = next(score for score in result.rubric if score.key == "open_questions")
    assert open_questions.rationale.startswith("3 of 3")


def test_unknown_speakers_fall_back_to_question_heavy_turns_as_counselor() -> None:
    result = analyze(
        (None, "What would you like to talk about today?"),
        (None, "I have been drinking too much since I lost my job in March."),
        (None, "How has the drinking been affecting you?"),
        (None, "I sleep badly and I argue with my wife a lot more than I used to."),
    )

    talk = next(score for score in result.rubric if score.key == "talk_balance")
    assert talk.score >= 4  # the two long statements are read as the client's


# ---------------------------------------------------------------- rubric
def test_every_rubric_score_is_between_1_and_5_and_cites_a_count() -> None:
    result = analyze(
        ("counselor", "What brings you here today?"),
        ("client", "I want to cut down on my drinking before my daughter's wedding."),
        ("counselor", "It sounds like the wedding really matters to you."),
        ("client", "It does. I'm going to stop drinking on weeknights."),
    )

    assert {score.key for score in result.rubric} >= {
        "reflection_to_question", "open_questions", "listening", "talk_balance", "collaboration",
    }
    for score in result.rubric:
        assert 1 <= score.score <= 5
        assert any(ch.isdigit() for ch in score.rationale)


def test_reflective_counselor_outscores_one_who_lectures() -> None:
    reflective = analyze(
        ("client", "I know I smoke too much, but it's how I cope with stress at work."),
        ("counselor", "So smoking helps you cope, and part of you is worried about how much."),
        ("client", "Yeah, exactly. My kids keep asking me to quit."),
        ("counselor", "Your kids matter a lot to you."),
        ("client", "They do. I want to be around for them."),
        ("counselor", "What would be a first step that feels doable?"),
    )
    lecturing = analyze(
        ("client", "I know I smoke too much, but it's how I cope with stress at work."),
        ("counselor", "You need to quit. Smoking can cause cancer and it's really dangerous."),
        ("client", "I know."),
        ("counselor", "You should try the patch. We recommend it for most people."),
        ("client", "Maybe."),
        ("counselor", "Do you understand the risks?"),
    )

    def total(result: AnalysisResult) -> int:
        return sum(score.score for score in result.rubric if score.key in ("reflection_to_question", "listening"))

    assert total(reflective) > total(lecturing)


def test_open_question_share_is_scored_from_counselor_questions() -> None:
    result = analyze(
        ("counselor", "What do you enjoy about drinking?"),
        ("client", "It helps me relax."),
        ("counselor", "How does it fit with your goals?"),
        ("client", "Not very well."),
        ("counselor", "Do you drink every day?"),
        ("client", "Most days."),
    )

    score = next(score for score in result.rubric if score.key == "open_questions")
    assert score.rationale == "2 of 3 counselor questions were open (67%)."
    assert score.score == 4


def test_safety_follow_up_is_scored_only_when_a_risk_is_flagged() -> None:
    routine = client_says("Work has been stressful but I'm managing.")
    followed_up = analyze(
        ("client", "Some nights I want to die."),
        ("counselor", "Thank you for telling me. Are you thinking about suicide right now?"),
        ("client", "Not right now."),
        ("counselor", "Let's make a safety plan together, and who could you call if it gets worse?"),
    )
    ignored = analyze(
        ("client", "Some nights I want to die."),
        ("counselor", "Okay. Let's get back to your budget spreadsheet."),
    )

    def safety(result: AnalysisResult) -> int | None:
        return next((score.score for score in result.rubric if score.key == "safety_follow_up"), None)

    assert safety(routine) is None
    assert safety(ignored) == 1
    assert (safety(followed_up) or 0) > 1


# ---------------------------------------------------------------- summary and actions
def test_summary_names_the_main_topic_and_the_risk() -> None:
    result = analyze(
        ("counselor", "What has drinking been like lately?"),
        ("client", "I've been drinking every night since the divorce, and the drinking scares me."),
        ("counselor", "The drinking scares you."),
        ("client", "Yes, and honestly sometimes I want to die."),
    )

    assert "drinking" in result.summary
    assert "Risk flagged: suicidal ideation (medium)" in result.summary


def test_summary_of_a_routine_session_says_no_risk_was_found() -> None:
    result = client_says("I've been walking every morning and my blood pressure is better.")

    assert result.summary.endswith("No risk indicators were found.")


def test_suicidal_ideation_calls_for_a_safety_plan() -> None:
    result = client_says("I have been thinking about killing myself.")

    assert any("safety plan" in item.lower() for item in result.action_items)


def test_high_suicide_risk_calls_for_a_same_day_assessment() -> None:
    result = client_says("I've saved up pills.")

    assert any(item.startswith("Same-day risk assessment") for item in result.action_items)


def test_agreed_plan_becomes_a_follow_up_action() -> None:
    result = analyze(
        ("counselor", "What would you like to do before we meet again?"),
        ("client", "I'm going to call the gym on Monday and book an induction."),
    )

    assert "Follow up on the plan: I'm going to call the gym on Monday and book an induction." in (
        result.action_items
    )


def test_routine_session_has_no_risk_actions() -> None:
    result = client_says("I'm cutting back on drinking and it's going well.")

    assert not any("safety" in item.lower() or "risk" in item.lower() for item in result.action_items)


# ---------------------------------------------------------------- the analyzer as a component
def test_offline_analyzer_satisfies_the_analyzer_protocol() -> None:
    analyzer = OfflineAnalyzer()

    assert isinstance(analyzer, Analyzer)
    assert analyzer.name == "offline"


def test_result_names_model_and_prompt_version_and_costs_nothing() -> None:
    result = client_says("Things are fine.")

    from vigil.analysis.risk.sentence_risk import shipped_sentence_model

    assert result.model == f"vigil-offline-rules + {shipped_sentence_model().name}"  # the risk model is named
    assert result.prompt_version == PROMPT_VERSION == "offline-v4"
    assert (result.tokens_in, result.tokens_out, result.cost_usd) == (0, 0, 0.0)


def test_same_transcript_gives_the_same_result() -> None:
    session = transcript(("counselor", "How are you?"), ("client", "I want to die. I've saved up pills."))

    assert OfflineAnalyzer().analyze(session) == OfflineAnalyzer().analyze(session)


def test_empty_transcript_gives_a_valid_result_without_risk() -> None:
    result = analyze()

    assert result.risk_level is RiskLevel.none
    assert result.flags == []
    assert all(1 <= score.score <= 5 for score in result.rubric)


class CountingAnalyzer(OfflineAnalyzer):
    def __init__(self) -> None:
        super().__init__()
        self.readings = 0

    def _risks(self, turns):  # type: ignore[no-untyped-def]
        self.readings += 1
        return super()._risks(turns)


def test_assess_and_summarize_at_once_read_the_risks_once_and_agree() -> None:
    from concurrent.futures import ThreadPoolExecutor

    analyzer = CountingAnalyzer()
    session = transcript(("counselor", "How have things been?"), ("client", "I keep thinking about killing myself."))
    with ThreadPoolExecutor(2) as pool:
        assessed = pool.submit(analyzer.assess, session)
        summarized = pool.submit(analyzer.summarize, session)
        assessment, summary = assessed.result(), summarized.result()
    assert analyzer.readings == 1
    assert RiskCategory.suicidal_ideation in {flag.category for flag in assessment.flags}
    assert "suicid" in summary.summary.lower() or "risk" in summary.summary.lower()
    other = transcript(("client", "Work has been fine and I slept well."))
    assert analyzer.assess(other).flags == [] and analyzer.readings == 2  # another transcript is read anew
