"""Pydantic models at the boundaries, by family: `enums` (roles, risk words), `transcripts` (provider output and
the transcripts built from it), `analysis` (what an analysis produces), `api` (HTTP payloads)."""
