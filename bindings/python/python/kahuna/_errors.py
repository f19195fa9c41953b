"""Status codes and the exception tree of the Kahuna client.

Every failed call raises a subclass of :class:`KahunaError` chosen by its stable status code
(the same numbers on the wire, in the C library and in C#). "Not found" and "condition not
met" are results (``found=False``, ``set=False``), never exceptions.
"""

from __future__ import annotations

import builtins
import enum


class Code(enum.IntEnum):
    """A stable status code. Never renumbered: new codes are only appended."""

    OK = 0
    INVALID_INPUT = 1
    NOT_FOUND = 2
    ABORTED = 3
    MUST_RETRY = 4
    UNAVAILABLE = 5
    TIMEOUT = 6
    LOCK_DOES_NOT_EXIST = 7
    INVALID_OWNER = 8
    INTERNAL = 9
    RESOURCE_EXHAUSTED = 10

    @property
    def retriable(self) -> bool:
        """True when repeating the same call is safe and may succeed."""
        return self in (Code.MUST_RETRY, Code.UNAVAILABLE)


class KahunaError(Exception):
    """The base of every error the client raises: a status ``code`` and a ``message``."""

    #: The code of this class of error; instances may carry a more precise one.
    code: Code = Code.INTERNAL

    def __init__(self, message: str, *, code: Code | int | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        if code is not None:
            self.code = Code(code)

    @property
    def retriable(self) -> bool:
        """True when repeating the same call is safe and may succeed (``MUST_RETRY``,
        ``UNAVAILABLE``). A ``TimeoutError`` is not: a write's outcome is unknown."""
        return self.code.retriable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code=Code.{self.code.name})"


class InvalidInputError(KahunaError, ValueError):
    """A bad argument; the message names it. Nothing was written."""

    code = Code.INVALID_INPUT


class NotFoundError(KahunaError):
    """The target does not exist, where an error (not a result) is due."""

    code = Code.NOT_FOUND


class AbortedError(KahunaError):
    """A definite transactional conflict: start the transaction again."""

    code = Code.ABORTED


class MustRetryError(KahunaError):
    """Transient (no leader, stale route, leader change); nothing was applied: retry."""

    code = Code.MUST_RETRY


class UnavailableError(KahunaError):
    """No quorum or leader could be reached in time; nothing was applied."""

    code = Code.UNAVAILABLE


class TimeoutError(KahunaError, builtins.TimeoutError):  # noqa: A001 - the code's name
    """The deadline passed. The outcome of a write is unknown: it may have been applied."""

    code = Code.TIMEOUT


class LockDoesNotExistError(KahunaError):
    """The lock does not exist or has expired."""

    code = Code.LOCK_DOES_NOT_EXIST


class InvalidOwnerError(KahunaError):
    """The lock is held by another owner."""

    code = Code.INVALID_OWNER


class LockBusyError(KahunaError):
    """A lock handle was entered (``with client.lock(...)``) without holding its lock: another
    owner held it for the whole of ``wait``, or the handle's lease had run out.

    Raised by the client, never by the server, so no status code of its own: its code is
    ``ABORTED`` (a definite "no", not retriable as such; pass ``wait=`` to keep trying).
    ``resource`` names the lock.
    """

    code = Code.ABORTED

    def __init__(self, message: str, *, resource: str = "", code: Code | int | None = None) -> None:
        super().__init__(message, code=code)
        self.resource: str = resource


class InternalError(KahunaError):
    """A bug or an I/O failure on the server or in the client."""

    code = Code.INTERNAL


class ResourceExhaustedError(KahunaError):
    """The node's Ephemeral store is at its memory cap (``limits.max_ephemeral_mb``); nothing was
    written. Deletes, expiries or a larger cap make room; retrying at once will not help."""

    code = Code.RESOURCE_EXHAUSTED


#: The exception class raised for each code (``Code.OK`` is never raised).
ERRORS: dict[Code, type[KahunaError]] = {
    Code.INVALID_INPUT: InvalidInputError,
    Code.NOT_FOUND: NotFoundError,
    Code.ABORTED: AbortedError,
    Code.MUST_RETRY: MustRetryError,
    Code.UNAVAILABLE: UnavailableError,
    Code.TIMEOUT: TimeoutError,
    Code.LOCK_DOES_NOT_EXIST: LockDoesNotExistError,
    Code.INVALID_OWNER: InvalidOwnerError,
    Code.INTERNAL: InternalError,
    Code.RESOURCE_EXHAUSTED: ResourceExhaustedError,
}


def _error(code: int, message: str) -> KahunaError:
    """The exception for a status code (called by the native module)."""
    try:
        cls = ERRORS[Code(code)]
    except (ValueError, KeyError):
        return InternalError(f"unexpected status code {code}: {message}")
    return cls(message)
