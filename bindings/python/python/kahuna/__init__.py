"""Kahuna: the Python client of a distributed, strongly consistent key/value store.

    import kahuna

    with kahuna.Client(["127.0.0.1:7071", "127.0.0.1:7072"], timeout=10.0) as client:
        client.try_set("config/flags/dark-mode", "on", expires_ms=60_000)
        got = client.try_get("config/flags/dark-mode")
        client.try_compare_revision_and_set("config/flags/dark-mode", b"off", got.revision)

:class:`Client` is a thin native wrapper (pyo3) over the Rust client core: routing, retries and
deadlines are the core's. It is thread-safe, releases the GIL while it waits on the network,
and raises a :class:`KahunaError` subclass per status code. :class:`AsyncClient` offers the
same methods as coroutines.
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
    LockDoesNotExistError,
    MustRetryError,
    NotFoundError,
    TimeoutError,
    UnavailableError,
)
from ._kahuna import Client, ScanPages
from ._kahuna import __version__ as __version__
from ._types import (
    DeleteResult,
    Durability,
    Entry,
    ExistsResult,
    ExtendResult,
    GetResult,
    ScanPage,
    SetResult,
    Topology,
)
from .aio import AsyncClient

__all__ = [
    "AbortedError",
    "AsyncClient",
    "Client",
    "Code",
    "DeleteResult",
    "Durability",
    "Entry",
    "ExistsResult",
    "ExtendResult",
    "GetResult",
    "InternalError",
    "InvalidInputError",
    "InvalidOwnerError",
    "KahunaError",
    "LockDoesNotExistError",
    "MustRetryError",
    "NotFoundError",
    "ScanPage",
    "ScanPages",
    "SetResult",
    "TimeoutError",
    "Topology",
    "UnavailableError",
    "hlc",
]
