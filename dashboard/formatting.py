"""Small display conversions shared by pages. Transcript text is always shown as plain text."""

from __future__ import annotations

SEVERITY_ICON = {"unknown": "⚠️", "high": "🔴", "medium": "🟠", "low": "🟡", "none": "⚪", None: "…"}
# "unknown" (the risk task failed) sorts first: no one, human or model, has read the session for risk yet.
SEVERITY_RANK = {"unknown": -1, "high": 0, "medium": 1, "low": 2, "none": 3}


def queue_order(sessions: list[dict]) -> list[dict]:
    """Flagged sessions awaiting review first, by severity then oldest; then everything else, newest first."""
    awaiting = sorted((s for s in sessions if s["flagged"] and not s["reviewed"]),
                      key=lambda s: (SEVERITY_RANK.get(s["risk_level"] or "", 4), s["created_at"]))
    rest = sorted((s for s in sessions if not (s["flagged"] and not s["reviewed"])),
                  key=lambda s: s["created_at"], reverse=True)
    return awaiting + rest


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}"


def label(category: str) -> str:
    return category.replace("_", " ")
