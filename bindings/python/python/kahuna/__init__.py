"""Kahuna: the Python client of a distributed, strongly consistent key/value store.

    import kahuna

    with kahuna.Client(["127.0.0.1:7071", "127.0.0.1:7072"], timeout=10.0) as client:
        client.try_set("config/flags/dark-mode", "on", expires_ms=60_000)
        got = client.try_get("config/flags/dark-mode")
        client.try_compare_revision_and_set("config/flags/dark-mode", b"off", got.revision)
        with client.lock("jobs/reindex", ttl_ms=10_000, wait=5) as lk:
            print("reindexing under fencing token", lk.fencing_token)

:class:`Client` is a thin native wrapper (pyo3) over the Rust client core: routing, retries and
deadlines are the core's. It is thread-safe, releases the GIL while it waits on the network,
and raises a :class:`KahunaError` subclass per status code. :class:`AsyncClient` offers the
same methods as coroutines. :meth:`Client.lock` returns a :class:`Lock` handle (a context
manager); :meth:`Client.election` runs a leader :class:`Election`.
"""

from __future__ import annotations

from . import hlc
from ._errors import (
    AbortedError,
    Code,
    InternalError,
    InvalidInputError,
    InvalidOwnerError,
    KahunaError,
    LockBusyError,
    LockDoesNotExistError,
    MustRetryError,
    NotFoundError,
    ResourceExhaustedError,
    TimeoutError,
    UnavailableError,
)
from ._kahuna import Client, Election, Leadership, ScanPages
from ._kahuna import __version__ as __version__
from ._types import (
    DeleteResult,
    Durability,
    Entry,
    ExistsResult,
    ExtendResult,
    GetResult,
    LeaderInfo,
    LockInfo,
    LockResult,
    ScanPage,
    SetResult,
    Topology,
)
from ._locks import Lock
from .aio import AsyncClient

__all__ = [
    "AbortedError",
    "AsyncClient",
    "Client",
    "Code",
    "DeleteResult",
    "Durability",
    "Election",
    "Entry",
    "ExistsResult",
    "ExtendResult",
    "GetResult",
    "InternalError",
    "InvalidInputError",
    "InvalidOwnerError",
    "KahunaError",
    "LeaderInfo",
    "Leadership",
    "Lock",
    "LockBusyError",
    "LockDoesNotExistError",
    "LockInfo",
    "LockResult",
    "MustRetryError",
    "NotFoundError",
    "ResourceExhaustedError",
    "ScanPage",
    "ScanPages",
    "SetResult",
    "TimeoutError",
    "Topology",
    "UnavailableError",
    "hlc",
]
