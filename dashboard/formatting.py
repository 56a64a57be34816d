"""Small display conversions shared by pages. Transcript text is always shown as plain text."""

from __future__ import annotations

SEVERITY_ICON = {"unknown": "⚠️", "high": "🔴", "medium": "🟠", "low": "🟡", "none": "⚪", None: "…"}


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}"


def label(category: str) -> str:
    return category.replace("_", " ")
