"""Type stubs of the native module ``kahuna._kahuna`` (pyo3 over the Rust client core)."""

from collections.abc import Iterator, Sequence
from typing import final

from ._errors import KahunaError
from ._locks import Lock
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

__all__ = [
    "__version__",
    "Client",
    "Election",
    "Leadership",
    "ScanPages",
    "_codes",
    "_error_for_code",
    "_partition_for_key",
]
__version__: str

@final
class Client:
    """A connection to a Kahuna cluster; thread-safe, and a context manager that closes it.

    Every method blocks until the call is done (the GIL is released meanwhile), retries what
    is safe to retry within ``timeout`` seconds, and raises a :class:`kahuna.KahunaError`
    subclass on failure. Keys are ``str``; values are ``bytes`` or ``str`` (UTF-8 encoded).
    """

    def __new__(
        cls,
        endpoints: Sequence[str] | str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        read_attempt_timeout: float = 2.0,
    ) -> Client:
        """Connects through any of ``endpoints`` ("host:port"), learning the topology.

        Raises :class:`kahuna.UnavailableError` when no endpoint answers within ``timeout``.
        """
    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
    @property
    def endpoints(self) -> list[str]:
        """The endpoints the client was created with."""
    @property
    def timeout(self) -> float:
        """The deadline of one call in seconds, retries included."""
    def try_set(
        self,
        key: str,
        value: bytes | bytearray | str,
        *,
        expires_ms: int = 0,
        if_exists: bool = False,
        if_not_exists: bool = False,
        no_revision: bool = False,
        durability: Durability = Durability.PERSISTENT,
    ) -> SetResult:
        """Writes ``value`` under ``key``; ``set`` is False when the condition failed.

        ``expires_ms``: expire that long after the write (0 = never). ``if_exists`` /
        ``if_not_exists`` (at most one): write only if the key is / is not live.
        ``no_revision``: do not keep the superseded revision readable. An Ephemeral write
        raises :class:`kahuna.ResourceExhaustedError` when the leader's Ephemeral store is at
        its memory cap.
        """
    def try_compare_value_and_set(
        self,
        key: str,
        value: bytes | bytearray | str,
        compare_value: bytes | bytearray | str,
        *,
        expires_ms: int = 0,
        durability: Durability = Durability.PERSISTENT,
    ) -> SetResult:
        """Writes ``value`` only if the key's live value equals ``compare_value``."""
    def try_compare_revision_and_set(
        self,
        key: str,
        value: bytes | bytearray | str,
        compare_revision: int,
        *,
        expires_ms: int = 0,
        durability: Durability = Durability.PERSISTENT,
    ) -> SetResult:
        """Writes ``value`` only if the key is live and its revision is ``compare_revision``."""
    def try_get(self, key: str, *, durability: Durability = Durability.PERSISTENT) -> GetResult:
        """Reads the latest live version of ``key`` (linearizable for PERSISTENT)."""
    def try_get_revision(
        self, key: str, revision: int, *, durability: Durability = Durability.PERSISTENT
    ) -> GetResult:
        """Reads a retained older ``revision`` of ``key``; not found if compacted."""
    def try_get_as_of(
        self, key: str, timestamp: int, *, durability: Durability = Durability.PERSISTENT
    ) -> GetResult:
        """Reads the newest version whose ``last_modified`` <= ``timestamp`` (HLC)."""
    def try_exists(
        self, key: str, *, durability: Durability = Durability.PERSISTENT
    ) -> ExistsResult:
        """Tells whether ``key`` is live, and its revision."""
    def try_delete(
        self, key: str, *, durability: Durability = Durability.PERSISTENT
    ) -> DeleteResult:
        """Deletes ``key``; ``deleted`` is False if it was not live. Keeps the revision."""
    def try_extend(
        self, key: str, expires_ms: int, *, durability: Durability = Durability.PERSISTENT
    ) -> ExtendResult:
        """Moves the expiry of a live ``key`` to now + ``expires_ms`` (> 0)."""
    def try_lock(
        self,
        resource: str,
        owner: bytes | bytearray | str,
        expires_ms: int,
        *,
        durability: Durability = Durability.PERSISTENT,
    ) -> LockResult:
        """Acquires the lock on ``resource`` for ``owner`` with a lease of ``expires_ms`` (> 0).

        ``locked`` is False while another owner holds a live lease. The first grant of a
        resource has fencing token 0, every grant to a new holder (or after a lease ran out)
        the previous + 1. The current owner acquiring again gets the same token, and its
        lease is not extended. Raises :class:`kahuna.InvalidInputError` for an empty
        ``resource`` or ``owner`` or ``expires_ms <= 0``.
        """
    def try_extend_lock(
        self,
        resource: str,
        owner: bytes | bytearray | str,
        expires_ms: int,
        *,
        durability: Durability = Durability.PERSISTENT,
    ) -> int:
        """Extends ``owner``'s live lease to now + ``expires_ms``; returns the unchanged token.

        Raises :class:`kahuna.LockDoesNotExistError` when the lock is free or its lease ran
        out, :class:`kahuna.InvalidOwnerError` when another owner holds it.
        """
    def unlock(
        self,
        resource: str,
        owner: bytes | bytearray | str,
        *,
        durability: Durability = Durability.PERSISTENT,
    ) -> None:
        """Releases ``owner``'s lock (even if its lease ran out, while nobody else took it).

        Raises :class:`kahuna.LockDoesNotExistError` when it is not held,
        :class:`kahuna.InvalidOwnerError` when another owner holds it.
        """
    def get_lock(self, resource: str, *, durability: Durability = Durability.PERSISTENT) -> LockInfo:
        """The live lock on ``resource``: owner, lease end (HLC) and fencing token.

        Raises :class:`kahuna.LockDoesNotExistError` when the resource is free.
        """
    def lock(
        self,
        resource: str,
        *,
        ttl_ms: int,
        owner: bytes | bytearray | str | None = None,
        wait: float | None = None,
        keep_alive: bool = False,
        durability: Durability = Durability.PERSISTENT,
    ) -> Lock:
        """Tries to take the lock on ``resource`` and returns a :class:`kahuna.Lock` handle.

        ``owner`` defaults to a fresh unique id. ``wait``: seconds to keep trying while
        another owner holds it (None: one try); check ``acquired``, or use the handle as a
        context manager, which raises :class:`kahuna.LockBusyError` on entry if the lock was
        not acquired and releases it on exit. ``keep_alive``: extend the lease every
        ``ttl_ms / 3`` on a background thread while held.
        """
    def election(self, name: str, candidate: bytes | bytearray | str, ttl_ms: int) -> Election:
        """An election for ``name`` in which this process stands as ``candidate``.

        Built on a Persistent lock whose lease lasts ``ttl_ms`` (> 0) unless kept alive.
        """
    def get_by_bucket(
        self, bucket: str, *, durability: Durability = Durability.PERSISTENT
    ) -> list[Entry]:
        """Every live key whose bucket (text before the last '/') is ``bucket``, by key."""
    def scan_by_prefix(
        self,
        prefix: str,
        *,
        limit: int = 100,
        cursor: bytes | None = None,
        durability: Durability = Durability.PERSISTENT,
    ) -> ScanPage:
        """One page (at most ``limit``, max 1000) of the keys starting with ``prefix``.

        Pass the page's ``cursor`` to get the next one; all pages read at one snapshot.
        """
    def scan_pages_by_prefix(
        self, prefix: str, *, limit: int = 100, durability: Durability = Durability.PERSISTENT
    ) -> ScanPages:
        """Iterates over every page of a prefix scan (one consistent snapshot)."""
    def topology(self) -> Topology:
        """The cluster's members and partition leaders, as a node sees them now."""
    def close(self) -> None:
        """Closes the connections; later calls raise InvalidInputError. Idempotent."""
    def __enter__(self) -> Client: ...
    def __exit__(self, *exc_info: object) -> bool: ...

@final
class ScanPages(Iterator[ScanPage]):
    """An iterator over the pages of one prefix scan; fetches a page per ``next()``."""

    def __iter__(self) -> ScanPages: ...
    def __next__(self) -> ScanPage: ...

@final
class Election:
    """An election for one name among candidates; create it with :meth:`Client.election`."""

    @property
    def name(self) -> str:
        """The name (a resource, routed like a key) the candidates compete for."""
    @property
    def candidate(self) -> bytes:
        """This process's candidate id."""
    @property
    def ttl_ms(self) -> int:
        """A leader's lease in milliseconds; the keep-alive extends it every third of that."""
    def campaign(self, timeout: float | None = None) -> Leadership | None:
        """Tries to become the leader for up to ``timeout`` seconds (None: until it does; 0:
        one try), polling every ``ttl_ms / 4``; returns None if another candidate still leads.

        The GIL is released while waiting, and Ctrl-C interrupts the wait. On success a
        background thread extends the lease every ``ttl_ms / 3``.
        """
    def leader(self) -> LeaderInfo | None:
        """The current leader, or None when nobody leads."""

@final
class Leadership:
    """Leadership won by :meth:`Election.campaign`; a context manager that resigns.

    Resigns when resigned explicitly, on leaving a ``with`` block, or when garbage-collected.
    """

    @property
    def fencing_token(self) -> int:
        """The fencing token of this leadership: pass it to every resource the leader writes."""
    @property
    def is_leader(self) -> bool:
        """False once resigned or once the lease could not be kept alive: stop leading then."""
    @property
    def name(self) -> str:
        """The election's name."""
    @property
    def candidate(self) -> bytes:
        """This leader's candidate id."""
    def resign(self) -> None:
        """Stops the keep-alive and releases the lock so another candidate takes over at once.

        Idempotent.
        """
    def __enter__(self) -> Leadership: ...
    def __exit__(self, *exc_info: object) -> bool: ...

def _codes() -> list[tuple[int, str]]: ...
def _error_for_code(code: int, message: str) -> KahunaError: ...
def _partition_for_key(key: str, partition_count: int) -> int: ...
