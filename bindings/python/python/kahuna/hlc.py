"""Hybrid logical clock timestamps, as the server stamps them.

A timestamp is one int: the high 48 bits are physical milliseconds since the Unix epoch, the
low 16 bits a logical counter ordering events within one millisecond. ``last_modified``,
``expires_at`` and scan snapshots are such timestamps; ``try_get_as_of`` takes one.
"""

from __future__ import annotations

import time

#: Bits of the logical counter.
LOGICAL_BITS = 16


def physical_ms(ts: int) -> int:
    """The physical milliseconds since the Unix epoch of a timestamp."""
    return ts >> LOGICAL_BITS


def logical(ts: int) -> int:
    """The logical counter of a timestamp."""
    return ts & 0xFFFF


def from_ms(ms: int) -> int:
    """The first timestamp of millisecond ``ms`` (logical counter 0)."""
    return ms << LOGICAL_BITS


def now() -> int:
    """The timestamp of the current wall-clock millisecond (logical counter 0)."""
    return from_ms(time.time_ns() // 1_000_000)


def to_seconds(ts: int) -> float:
    """A timestamp as seconds since the Unix epoch, for ``datetime.fromtimestamp``."""
    return physical_ms(ts) / 1000.0
