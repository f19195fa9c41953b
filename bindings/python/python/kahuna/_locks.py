"""Lock handles: :meth:`kahuna.Client.lock` and the :class:`Lock` it returns.

A :class:`Lock` is a thin layer over the four lock calls of the client (``try_lock``,
``try_extend_lock``, ``unlock``, ``get_lock``; the rules are those of docs/locks.md). It adds:

- a default owner unique to the handle (``host/pid/random``), so two handles never share a
  grant by accident;
- waiting: ``wait=`` seconds of retries while another owner holds the lock (10 ms, doubling
  up to 250 ms between tries, like the Rust client's ``lock_with_wait``);
- the client's view of the lease: a grant is taken to end ``ttl_ms`` after the request that
  got it was *sent* (the server's lease starts later, so this view is never the longer one),
  and :attr:`Lock.acquired` turns False when it ends;
- optionally a keep-alive thread that extends the lease every ``ttl_ms / 3``;
- ``with``: entering requires the lock (:class:`LockBusyError` otherwise), leaving releases it.

    with client.lock("jobs/reindex", ttl_ms=10_000, wait=5) as lk:
        write_protected_data(fence=lk.fencing_token)
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from ._errors import (
    InvalidInputError,
    InvalidOwnerError,
    KahunaError,
    LockBusyError,
    LockDoesNotExistError,
)
from ._types import Durability

if TYPE_CHECKING:
    from ._kahuna import Client

#: The errors that mean "you do not hold this lock (any more)".
_LOST = (LockDoesNotExistError, InvalidOwnerError)

#: Pauses between two tries while waiting for a busy lock.
_FIRST_PAUSE = 0.01
_MAX_PAUSE = 0.25


def new_owner() -> bytes:
    """A fresh owner id: ``host/pid/<128 random bits>``, readable in ``get_lock``."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}".encode()


def _owner_arg(owner: bytes | bytearray | str | None) -> bytes:
    if owner is None:
        return new_owner()
    if isinstance(owner, str):
        owner = owner.encode()
    elif isinstance(owner, (bytes, bytearray)):
        owner = bytes(owner)
    else:
        raise TypeError(f"owner must be bytes, str or None, not {type(owner).__qualname__}")
    if not owner:
        raise InvalidInputError("owner must not be empty")
    return owner


def _ttl_arg(name: str, ttl_ms: int) -> int:
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int):
        raise TypeError(f"{name} must be an int (milliseconds), not {type(ttl_ms).__qualname__}")
    if ttl_ms <= 0:
        raise InvalidInputError(f"{name} must be greater than 0, got {ttl_ms}")
    return ttl_ms


def _wait_arg(wait: float | None) -> float | None:
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, (int, float)):
        raise TypeError(f"wait must be None or a number of seconds, not {type(wait).__qualname__}")
    if not math.isfinite(wait) or wait < 0:
        raise InvalidInputError(f"wait must be None or a number of seconds >= 0, got {wait}")
    return float(wait)


class _Lease:
    """What a handle knows of its grant; shared with its keep-alive thread (which must not
    keep the handle itself alive)."""

    __slots__ = ("end", "held", "keeper", "mutex", "token")

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        #: True while this handle has a grant it has not released and that the server has not
        #: refused (its lease may still have run out: see ``end``).
        self.held = False
        #: The fencing token of the latest grant.
        self.token: int | None = None
        #: ``time.monotonic()`` at which the client's view of the lease ends.
        self.end = 0.0
        #: The stop signal of the running keep-alive thread, if any.
        self.keeper: threading.Event | None = None

    def live(self) -> bool:
        return self.held and time.monotonic() < self.end

    def stop_keeper(self) -> None:
        """Tells the keep-alive thread to stop. It is not waited for: an extension in flight
        may take up to the client's timeout, and once stopped it changes nothing."""
        with self.mutex:
            if self.keeper is not None:
                self.keeper.set()
                self.keeper = None


def _keep_alive(
    client: Client,
    resource: str,
    owner: bytes,
    ttl_ms: int,
    durability: Durability,
    lease: _Lease,
    stop: threading.Event,
) -> None:
    """Extends the lease every ``ttl_ms / 3`` until stopped, refused, or out of time."""
    period = max(ttl_ms / 3000.0, 0.005)
    while not stop.wait(period):
        sent = time.monotonic()
        try:
            client.try_extend_lock(resource, owner, ttl_ms, durability=durability)
        except _LOST:
            with lease.mutex:
                if not stop.is_set():
                    lease.held = False
                    lease.keeper = None
            return
        except KahunaError:
            if time.monotonic() >= lease.end:
                with lease.mutex:  # `acquired` is already False; `release` still unlocks
                    if not stop.is_set():
                        lease.keeper = None
                return
            continue
        with lease.mutex:
            if stop.is_set():
                return
            lease.end = sent + ttl_ms / 1000.0


class Lock:
    """A handle on one leased lock; :meth:`kahuna.Client.lock` creates (and acquires) it.

    ``with lock:`` requires the lock (raising :class:`kahuna.LockBusyError` otherwise) and
    releases it on the way out, whether the block succeeded or raised. Thread-safe.
    """

    def __init__(
        self,
        client: Client,
        resource: str,
        *,
        ttl_ms: int,
        owner: bytes | bytearray | str | None = None,
        keep_alive: bool = False,
        durability: Durability = Durability.PERSISTENT,
    ) -> None:
        """A handle on ``resource`` for ``owner`` (default: a fresh unique id), not acquired
        yet. ``ttl_ms``: the lease of every grant and extension (> 0). ``keep_alive``: extend
        the lease every ``ttl_ms / 3`` on a background thread while the lock is held."""
        if not isinstance(resource, str):
            raise TypeError(f"resource must be str, not {type(resource).__qualname__}")
        if not isinstance(durability, Durability):
            raise TypeError(f"durability must be a kahuna.Durability, not {type(durability).__qualname__}")
        self._client = client
        self._resource = resource
        self._ttl_ms = _ttl_arg("ttl_ms", ttl_ms)
        self._owner = _owner_arg(owner)
        self._keep_alive = bool(keep_alive)
        self._durability = durability
        self._lease = _Lease()
        # A handle dropped while held stops its keep-alive, so the lease runs out on its own.
        weakref.finalize(self, self._lease.stop_keeper)

    @property
    def resource(self) -> str:
        """The locked resource."""
        return self._resource

    @property
    def owner(self) -> bytes:
        """The owner id this handle locks as."""
        return self._owner

    @property
    def ttl_ms(self) -> int:
        """The lease of a grant or an extension, in milliseconds."""
        return self._ttl_ms

    @property
    def durability(self) -> Durability:
        """The lock's keyspace."""
        return self._durability

    @property
    def keep_alive(self) -> bool:
        """True when a background thread extends the lease while the lock is held."""
        return self._keep_alive

    @property
    def fencing_token(self) -> int | None:
        """The fencing token of the latest grant (kept after release); None before any."""
        return self._lease.token

    @property
    def acquired(self) -> bool:
        """True while this handle holds the lock as far as the client can tell: granted, not
        released, not refused on an extension, and its lease (counted from when the request
        was sent) not run out."""
        return self._lease.live()

    @property
    def remaining(self) -> float:
        """Seconds left of the client's view of the lease (0.0 when not acquired)."""
        lease = self._lease
        return max(0.0, lease.end - time.monotonic()) if lease.held else 0.0

    def acquire(self, wait: float | None = None) -> bool:
        """Tries to take the lock; while another owner holds it, tries again for up to
        ``wait`` seconds (None: one try). Returns :attr:`acquired`.

        Acquiring a lock the owner already holds returns the same grant (same token) and,
        as the server does, does not extend its lease: use :meth:`extend` for that (a grant
        whose lease the client already counts as run out stays so, and this returns False).
        """
        wait = _wait_arg(wait)
        deadline = None if wait is None else time.monotonic() + wait
        pause = _FIRST_PAUSE
        while True:
            sent = time.monotonic()
            r = self._client.try_lock(self._resource, self._owner, self._ttl_ms, durability=self._durability)
            if r.locked:
                self._granted(r.fencing_token, sent)
                return self.acquired
            now = time.monotonic()
            if deadline is None or now >= deadline:
                return False
            time.sleep(min(pause, deadline - now))
            pause = min(pause * 2, _MAX_PAUSE)

    def _granted(self, token: int, sent: float) -> None:
        lease = self._lease
        with lease.mutex:
            same_grant = lease.held and lease.token == token
            if not same_grant:
                lease.end = sent + self._ttl_ms / 1000.0
            lease.held = True
            lease.token = token
            self._start_keeper()

    def _start_keeper(self) -> None:
        """Starts the keep-alive thread if it is wanted and not running (mutex held)."""
        lease = self._lease
        if self._keep_alive and lease.keeper is None:
            lease.keeper = threading.Event()
            threading.Thread(
                target=_keep_alive,
                args=(
                    self._client,
                    self._resource,
                    self._owner,
                    self._ttl_ms,
                    self._durability,
                    lease,
                    lease.keeper,
                ),
                name=f"kahuna-lock-keepalive {self._resource}",
                daemon=True,
            ).start()

    def extend(self, ttl_ms: int | None = None) -> int:
        """Moves the end of the lease to now + ``ttl_ms`` (default: the handle's ``ttl_ms``)
        and returns the (unchanged) fencing token. Raises :class:`kahuna.LockDoesNotExistError`
        when the lock is free (released, or the lease ran out) and
        :class:`kahuna.InvalidOwnerError` when another owner holds it; either way this handle
        no longer holds it."""
        ttl = self._ttl_ms if ttl_ms is None else _ttl_arg("ttl_ms", ttl_ms)
        lease = self._lease
        sent = time.monotonic()
        try:
            token = self._client.try_extend_lock(
                self._resource, self._owner, ttl, durability=self._durability
            )
        except _LOST:
            with lease.mutex:
                lease.held = False
            raise
        with lease.mutex:
            lease.held = True
            lease.token = token
            lease.end = sent + ttl / 1000.0
            self._start_keeper()
        return token

    def release(self) -> None:
        """Releases the lock if this handle holds it; does nothing otherwise (idempotent).

        A lock that is already free (its lease ran out and nobody took it, or an Ephemeral
        lock lost with its partition leader) counts as released, and so does one that another
        owner took while the release was on its way, if it was asked for before this handle's
        lease ran out. Raises :class:`kahuna.InvalidOwnerError` when the release came after the
        lease ran out and another owner holds the lock: the work done under it may have
        overlapped theirs.
        """
        lease = self._lease
        lease.stop_keeper()
        with lease.mutex:
            held, lease.held = lease.held, False
            in_time = time.monotonic() < lease.end
        if not held:
            return
        try:
            self._client.unlock(self._resource, self._owner, durability=self._durability)
        except LockDoesNotExistError:
            pass
        except InvalidOwnerError:
            if not in_time:
                raise

    def __enter__(self) -> Lock:
        if self.acquired:
            return self
        if self._lease.held:  # the lease ran out before the block started
            try:
                self.release()
            except KahunaError:
                pass
            why = "its lease ran out before the block started"
        else:
            why = "another owner holds it" if self._lease.token is None else "it is not held by this handle"
        raise LockBusyError(f"lock {self._resource!r} was not acquired: {why}", resource=self._resource)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.release()
        else:
            try:
                self.release()
            except KahunaError:
                pass  # the block's exception is the one to see

    def __repr__(self) -> str:
        return (
            f"Lock(resource={self._resource!r}, owner={self._owner!r}, "
            f"fencing_token={self._lease.token!r}, acquired={self.acquired})"
        )


def _acquire(
    client: Client,
    resource: str,
    ttl_ms: int,
    owner: bytes | bytearray | str | None,
    wait: float | None,
    keep_alive: bool,
    durability: Durability,
) -> Lock:
    """``Client.lock``: a new handle, after one try (or ``wait`` seconds of tries) to acquire."""
    lock = Lock(client, resource, ttl_ms=ttl_ms, owner=owner, keep_alive=keep_alive, durability=durability)
    lock.acquire(wait)
    return lock
