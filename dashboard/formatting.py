"""Small display conversions shared by pages. Transcript text is always shown as plain text."""

from __future__ import annotations

import re

# Every character Markdown gives a meaning to (Streamlit never renders raw HTML from these calls, but Markdown
# links and images would load, so text from users, providers or models is escaped before any Markdown call).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """`text` escaped so that st.title, st.markdown, st.error… show it literally."""
    return _MARKDOWN.sub(r"\\\1", str(text))


# Shown wherever a session transcribed by the load-test `standin` provider appears (it never runs unless the
# deployment sets ALLOW_STANDIN=true).
LOAD_TEST_MARK = "🧪 load-test transcript"
LOAD_TEST_WARNING = ("Load-test transcript: the `standin` provider returns the same words for every recording. "
                     "This is not what was said, and the analysis of it means nothing.")

SEVERITY_ICON = {"unknown": "⚠️", "high": "🔴", "medium": "🟠", "low": "🟡", "none": "⚪", None: "…"}


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}"


def label(category: str) -> str:
    return category.replace("_", " ")


def field_label(field: str) -> str:
    """A reviewed field's name for people: `rubric.open_questions` → "Rubric: open questions"."""
    kind, _, key = field.partition(".")
    names = {"risk_level": "Risk level", "summary": "Summary", "action_items": "Action items",
             "mi_quality": "MI quality", "rubric": "Rubric", "flag": "Flag"}
    return f"{names.get(kind, kind)}: {label(key)}" if key else names.get(kind, label(kind))


def field_value(value: object) -> str:
    """A reviewed value as plain text (action items one per line; flags' decisions in words)."""
    if isinstance(value, list):
        return "\n".join(f"• {item}" for item in value)
    if value in ("flagged", "not_flagged", "confirmed", "dismissed"):
        return label(str(value))
    return "–" if value is None else str(value)


_ROLES_SOURCE = {"diarization": "speakers from diarization", "provider": "speakers from the speech provider",
                 "inference": "no speakers: each turn read on its own", "person": "a supervisor's speaker correction"}
_ROLES_BASIS = {"named": "the role the label names", "first_speaker": "the tenant's first-speaker setting",
                "content": "what each speaker says", "per_segment": "what each turn says"}


def roles_note(roles: dict | None) -> str:
    """One line saying who is counselor and client and where that came from, e.g.
    "Roles: S1 counselor · S2 client — speakers from diarization, by what each speaker says"."""
    if not roles:
        return "Roles: not recorded (an analysis from before roles were recorded)"
    who = " · ".join(f"{plain(label)} {role}" for label, role in roles.get("by_speaker", {}).items())
    note = f"Roles: {who + ' — ' if who else ''}{_ROLES_SOURCE.get(roles['source'], roles['source'])}"
    if roles["basis"] != "per_segment":
        note += f", by {_ROLES_BASIS.get(roles['basis'], roles['basis'])}"
    return note + (" (the speakers barely differ: read both ways)" if roles.get("ambiguous") else "")
