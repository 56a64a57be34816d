"""What counts as evidence: a quote found, as written (case aside), in the segment it cites."""

from __future__ import annotations


def quote_in_text(quote: str, text: str) -> bool:
    """The one rule the model analyzer validates with and the pipeline enforces; an empty quote is none."""
    return bool(quote) and quote.lower() in text.lower()
