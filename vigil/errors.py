"""Typed errors. Raised close to the cause, handled in one place per layer."""

from __future__ import annotations

from datetime import datetime


class VigilError(Exception):
    """Base class; `code` is a stable machine-readable reason stored on jobs and shown to people."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (Ray returns a stage's exception to the dispatcher). Pickling an
        # exception re-calls __init__ with its message only, which fails for subclasses with required keyword
        # arguments (Deferred's `until`); rebuild from the message and the attributes instead.
        return _rebuild, (type(self), self.message, dict(self.__dict__))


def _rebuild(cls: type[VigilError], message: str, state: dict[str, object]) -> VigilError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class PermanentError(VigilError):
    """Retrying cannot help (corrupt media, unsupported content). The job fails at once."""

    code = "permanent"


class TransientError(VigilError):
    """May succeed later (timeout, worker death, provider 5xx/429). The job is retried with backoff."""

    code = "transient"


class InvalidProviderOutput(TransientError):
    """A provider answered, but not in its documented shape: a body that is not JSON, a field of the wrong type, a
    time below zero or a confidence above one. Counted per provider as a parse error (the `parse_error` metric);
    transient, since the same request usually gets a well-formed answer, and the other providers still count."""

    code = "provider_invalid_output"


class ValidationFailure(VigilError):
    """Input rejected at the boundary (an upload, a review); nothing is written."""

    code = "invalid"


class NotFound(VigilError):
    """The object does not exist for this caller (another tenant's objects are not found, too)."""

    code = "not_found"


class Unauthenticated(VigilError):
    """The caller's credential proves nothing: a token that is expired, forged, for another audience or from a
    provider this deployment does not trust. `code` says which."""

    code = "unauthenticated"


class Forbidden(VigilError):
    """The caller's role does not allow this action on their own tenant's data."""

    code = "forbidden"


class Gone(VigilError):
    """The object existed but was deleted on purpose (e.g. by the tenant's retention policy)."""

    code = "gone"


class Conflict(VigilError):
    """The object is not in a state that allows this action yet (e.g. no transcript to analyse)."""

    code = "conflict"


class Deferred(VigilError):
    """Not now, and not a failure: the stage waits until `until` without spending an attempt (e.g. the tenant's
    daily model budget is spent)."""

    code = "deferred"

    def __init__(self, message: str, *, until: datetime, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.until = until
