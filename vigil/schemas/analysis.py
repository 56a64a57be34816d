"""What an analysis of one transcript produces (risk flags with evidence, rubric scores, MITI codes, the
summary), and the prompts and rubrics that steer it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import SpeakerRoles


class Evidence(BaseModel):
    quote: str = Field(description="Verbatim text from the transcript.")
    segment_index: int
    start: float
    end: float


class RiskFlag(BaseModel):
    category: RiskCategory
    severity: RiskLevel
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(min_length=1)
    rationale: str = ""


class RubricScore(BaseModel):
    key: str
    label: str
    score: int = Field(ge=0, le=100, description="On the item's scale (1..5 unless the rubric says otherwise).")
    rationale: str
    scale_max: int = Field(5, ge=1, le=100)


class RubricItem(BaseModel):
    """One item of a rubric: data, not code. `measure` names an offline measure (vigil.analysis.miti.measures) the
    offline analyzer can score; `thresholds` (ascending) turn the measure into the scale: one point above
    `scale_min` for each threshold reached. A model analyzer reads `description` instead."""

    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    scale_min: int = Field(1, ge=0, le=10)
    scale_max: int = Field(5, ge=1, le=100)
    measure: str | None = None
    thresholds: list[float] | None = None
    higher_is_better: bool = True


class RubricDefinition(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    items: list[RubricItem] = Field(min_length=1, max_length=50)


class PromptSet(BaseModel):
    """A model analyzer's prompts as data: `assess` must take {schema}, {rubric_name} and {rubric_items};
    `summary` must take {schema}."""

    assess: str = Field(min_length=20, max_length=20000)
    summary: str = Field(min_length=20, max_length=20000)

    @field_validator("assess")
    @classmethod
    def _assess_placeholders(cls, value: str) -> str:
        return _needs_placeholders(value, ("schema", "rubric_name", "rubric_items"))

    @field_validator("summary")
    @classmethod
    def _summary_placeholders(cls, value: str) -> str:
        return _needs_placeholders(value, ("schema",))


def _needs_placeholders(template: str, names: tuple[str, ...]) -> str:
    try:
        template.format(**{name: "" for name in names})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"the template has a placeholder other than {names} or stray braces: {exc}") from exc
    missing = [name for name in names if "{" + name + "}" not in template]
    if missing:
        raise ValueError(f"the template lacks {', '.join('{' + m + '}' for m in missing)}")
    return template


Behaviour = Literal["question", "reflection", "therapist_input", "other"]


class TurnCode(BaseModel):
    """A counselor turn's main MITI-style behaviour, with the question or reflection subtype."""

    segment_index: int
    behaviour: Behaviour
    subtype: Literal["open", "closed", "simple", "complex"] | None = None
    confidence: float | None = Field(None, ge=0.0, le=1.0)


class MitiScores(BaseModel):
    """MITI 4.2.1 summary scores from the coded counselor turns, and the overall MI quality."""

    questions: int
    open_questions: int
    reflections: int
    complex_reflections: int
    therapist_input: int
    other: int
    reflection_to_question: float | None = Field(description="Reflections per question (fair 1.0, good 2.0).")
    percent_complex_reflections: float | None = Field(description="Complex share of reflections, 0..100 "
                                                                   "(fair 40, good 50).")
    percent_open_questions: float | None = Field(description="Open share of questions, 0..100.")
    mi_quality: Literal["high", "low"] | None = None
    mi_quality_confidence: float | None = Field(None, ge=0.0, le=1.0)


Sensitivity = Literal["high", "balanced"]


class ModelWork(BaseModel):
    """Who produced an output and what it cost: every analyzer output carries these."""

    model: str
    prompt_version: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class RiskAssessment(ModelWork):
    """The risk-and-rubric task's output."""

    risk_level: RiskLevel
    flags: list[RiskFlag]
    rubric: list[RubricScore]
    turn_codes: list[TurnCode] = Field(default_factory=list)
    miti: MitiScores | None = None
    sensitivity: Sensitivity | None = Field(
        None, description="The risk model's operating point the flags come from (high: recall first, balanced); "
                          "None when no threshold model set the flags (a chat model).")


class SessionSummary(ModelWork):
    """The summary task's output."""

    summary: str
    action_items: list[str]


class TaskOutcome(BaseModel):
    """How one post-transcription task went."""

    status: Literal["succeeded", "failed", "skipped"]
    seconds: float
    model: str | None = None
    error: str | None = None


class AnalysisResult(ModelWork):
    """What an analysis of one transcript produced: the four tasks' outputs, with each task's outcome."""

    risk_level: RiskLevel
    flags: list[RiskFlag]
    rubric: list[RubricScore]
    summary: str
    action_items: list[str]
    turn_codes: list[TurnCode] = Field(default_factory=list)
    miti: MitiScores | None = None
    risk_status: Literal["analysed", "failed"] = Field(
        "analysed", description="'failed' when the risk task failed: the session must be reviewed by hand.")
    sensitivity: Sensitivity | None = Field(None, description="The risk model's operating point (high, balanced).")
    rubric_version: str | None = None
    analytics: dict[str, Any] | None = Field(None, description="Talk time, pace, fillers, silences, interruptions.")
    tasks: dict[str, TaskOutcome] = Field(default_factory=dict)
    roles: SpeakerRoles | None = Field(None, description="Counselor or client per speaker, and where the roles came "
                                                         "from (diarization, a provider, inference or a person).")
