"""Small display conversions shared by pages. Transcript text is always shown as plain text."""

from __future__ import annotations

import re

SEVERITY_ICON = {"high": "🔴", "medium": "🟠", "low": "🟡", "none": "⚪", None: "…"}
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "none": 3}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}"


def plain(text: str) -> str:
    """Escape Markdown so text from a recording can never become links, images or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def label(category: str) -> str:
    return category.replace("_", " ")
