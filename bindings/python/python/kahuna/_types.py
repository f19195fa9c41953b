"""The values the client takes and returns: durabilities and immutable result objects.

Results mirror the contract (SEMANTICS.md): a missing key or a failed condition is a result
(``found=False``, ``set=False``, revision ``-1`` when the key never existed), never an error.
Timestamps (``last_modified``, ``expires_at``, ``snapshot``) are hybrid logical clock values:
see :mod:`kahuna.hlc` to take them apart. The native module builds these objects; they are
plain frozen dataclasses, so they compare, hash, pickle and pattern-match like any other.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, fields

#: Values longer than this are shortened in ``repr``.
_REPR_VALUE_BYTES = 64


class Durability(enum.IntEnum):
    """Where a key lives. The two durabilities are separate keyspaces.

    The numbers are the wire's (and the C library's). Arguments must be members of this
    enum: a plain int is refused, so a misplaced positional number cannot pick a keyspace.
    """

    #: Replicated through Raft and fsynced on a quorum before the call returns; linearizable.
    PERSISTENT = 0
    #: Kept only in the memory of the partition leader; lost when leadership moves.
    EPHEMERAL = 1

    def __repr__(self) -> str:
        return f"Durability.{self.name}"


def _short(value: bytes) -> str:
    if len(value) <= _REPR_VALUE_BYTES:
        return repr(value)
    return f"{value[:_REPR_VALUE_BYTES]!r}...({len(value)} bytes)"


class _Repr:
    """A dataclass ``__repr__`` that shortens long values."""

    __slots__ = ()

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            parts.append(f"{f.name}={_short(v) if isinstance(v, bytes) else repr(v)}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, slots=True, repr=False)
class SetResult(_Repr):
    """The outcome of a set or compare-and-set."""

    #: True when the value was written.
    set: bool
    #: The new revision when set; otherwise the current one (-1 if the key never existed).
    revision: int
    #: HLC timestamp of the write (0 when nothing was written).
    last_modified: int


@dataclass(frozen=True, slots=True, repr=False)
class GetResult(_Repr):
    """The outcome of a read of one key."""

    #: True when a live version was found.
    found: bool
    #: The value (``b""`` when not found; an empty value is also a value).
    value: bytes
    #: The version's revision; when not found the current revision or -1.
    revision: int
    #: HLC timestamp of expiry; 0 = never.
    expires_at: int
    #: HLC timestamp of the write that produced this version.
    last_modified: int


@dataclass(frozen=True, slots=True, repr=False)
class ExistsResult(_Repr):
    """The outcome of ``try_exists``."""

    #: True when the key is live.
    exists: bool
    #: The key's revision (-1 when it never existed).
    revision: int


@dataclass(frozen=True, slots=True, repr=False)
class DeleteResult(_Repr):
    """The outcome of ``try_delete``."""

    #: True when a live key was deleted.
    deleted: bool
    #: The revision the key had when deleted (a delete does not increment it).
    revision: int


@dataclass(frozen=True, slots=True, repr=False)
class ExtendResult(_Repr):
    """The outcome of ``try_extend``."""

    #: True when the key was live and its expiry moved.
    extended: bool
    #: The key's revision (unchanged by extend).
    revision: int


@dataclass(frozen=True, slots=True, repr=False)
class Entry(_Repr):
    """One key and its current version, as returned by bucket reads and scans."""

    key: str
    value: bytes
    revision: int
    #: HLC timestamp of expiry; 0 = never.
    expires_at: int
    #: HLC timestamp of the write that produced this version.
    last_modified: int


@dataclass(frozen=True, slots=True, repr=False)
class ScanPage(_Repr):
    """One page of a prefix scan; iterating it yields its entries."""

    #: Entries ordered by key.
    entries: tuple[Entry, ...]
    #: Pass to the next ``scan_by_prefix`` call; ``None`` when there are no more pages.
    cursor: bytes | None
    #: HLC timestamp every page of this scan reads at.
    snapshot: int

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True, repr=False)
class Topology(_Repr):
    """The cluster as one node sees it: members and partition leaders."""

    cluster_id: int
    cluster_name: str
    partition_count: int
    #: Every member as ``(node id, "host:port")``.
    nodes: tuple[tuple[int, str], ...]
    #: The leader's node id of each partition (index = partition), ``None`` when unknown.
    leaders: tuple[int | None, ...]
    #: The Raft term of each partition's leader (index = partition; 0 = unknown).
    terms: tuple[int, ...]
    #: The node that answered.
    answered_by: int

    def address_of(self, node: int) -> str | None:
        """The RPC address of the node with this id, if it is a member."""
        return next((address for id_, address in self.nodes if id_ == node), None)


@dataclass(frozen=True, slots=True, repr=False)
class LockResult(_Repr):
    """The outcome of ``try_lock``."""

    #: True when the owner holds the lock (newly, or already).
    locked: bool
    #: The holder's fencing token when locked: 0 on a resource's first grant, +1 on every
    #: grant to a new holder (or after a lease ran out). 0 when not locked.
    fencing_token: int


@dataclass(frozen=True, slots=True, repr=False)
class LockInfo(_Repr):
    """A live lock, from ``get_lock``."""

    #: The holder.
    owner: bytes
    #: HLC timestamp at which the lease ends (the server's clock; see :mod:`kahuna.hlc`).
    expires_at: int
    #: The holder's fencing token.
    fencing_token: int


@dataclass(frozen=True, slots=True, repr=False)
class LeaderInfo(_Repr):
    """The current leader of an election, from ``Election.leader``."""

    #: The leader's candidate id.
    candidate: bytes
    #: Its fencing token.
    fencing_token: int
    #: HLC timestamp at which its lease ends unless it is kept alive.
    expires_at: int
