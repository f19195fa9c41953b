"""Locks through the Python client against a real 3-node cluster: every rule of SEMANTICS.md
("Locks") in both durabilities, bad arguments, the `Lock` handle (context manager, waiting,
keep-alive), leader election, and threads contending for one lock."""

from __future__ import annotations

import gc
import threading
import time

import pytest

import kahuna
from kahuna import Code, Durability, hlc

BOTH = pytest.mark.parametrize("durability", list(Durability), ids=lambda d: d.name.lower())
EPH = Durability.EPHEMERAL


def wait_for(what: str, predicate, timeout: float = 10.0):
    """Polls `predicate` until it returns a truthy value, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def is_free(client: kahuna.Client, resource: str, durability: Durability = Durability.PERSISTENT) -> bool:
    try:
        client.get_lock(resource, durability=durability)
    except kahuna.LockDoesNotExistError:
        return True
    return False


def keepalive_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kahuna-lock-keepalive")]


# ---------------------------------------------------------------------------------------------
# The rules, on the four calls


@BOTH
def test_the_first_grant_has_token_0_and_get_lock_reports_it(client, ns, durability):
    res = f"{ns}/job"
    before = hlc.now()
    r = client.try_lock(res, b"w1", 10_000, durability=durability)
    assert isinstance(r, kahuna.LockResult)
    assert (r.locked, r.fencing_token) == (True, 0)
    info = client.get_lock(res, durability=durability)
    assert isinstance(info, kahuna.LockInfo)
    assert (info.owner, info.fencing_token) == (b"w1", 0)
    lease_ms = hlc.physical_ms(info.expires_at) - hlc.physical_ms(before)
    assert 9_000 <= lease_ms <= 11_000, lease_ms


@BOTH
def test_the_owner_reacquiring_gets_its_token_back_and_no_longer_lease(client, ns, durability):
    res = f"{ns}/job"
    assert client.try_lock(res, "w1", 5_000, durability=durability) == kahuna.LockResult(True, 0)
    first = client.get_lock(res, durability=durability)
    time.sleep(0.05)
    again = client.try_lock(res, "w1", 60_000, durability=durability)
    assert (again.locked, again.fencing_token) == (True, 0)
    assert client.get_lock(res, durability=durability).expires_at == first.expires_at, "not extended"


@BOTH
def test_another_owner_is_refused_while_the_lease_is_live(client, ns, durability):
    res = f"{ns}/job"
    assert client.try_lock(res, "w1", 10_000, durability=durability).locked
    busy = client.try_lock(res, "w2", 10_000, durability=durability)
    assert (busy.locked, busy.fencing_token) == (False, 0)
    assert client.get_lock(res, durability=durability).owner == b"w1"
    client.unlock(res, "w1", durability=durability)
    assert client.try_lock(res, "w2", 10_000, durability=durability) == kahuna.LockResult(True, 1)


@BOTH
def test_every_new_holder_gets_the_next_token(client, ns, durability):
    res = f"{ns}/job"
    tokens = []
    for i in range(5):
        tokens.append(client.try_lock(res, f"w{i}", 10_000, durability=durability).fencing_token)
        client.unlock(res, f"w{i}", durability=durability)
    assert tokens == [0, 1, 2, 3, 4]
    # The same owner after a release is a new holder too.
    assert client.try_lock(res, "w4", 10_000, durability=durability).fencing_token == 5


@BOTH
def test_extend_is_for_the_owner_and_keeps_the_token(client, ns, durability):
    res = f"{ns}/job"
    with pytest.raises(kahuna.LockDoesNotExistError) as info:
        client.try_extend_lock(res, "w1", 1_000, durability=durability)
    assert info.value.code is Code.LOCK_DOES_NOT_EXIST
    client.try_lock(res, "w1", 1_000, durability=durability)
    before = client.get_lock(res, durability=durability)
    assert client.try_extend_lock(res, b"w1", 30_000, durability=durability) == 0
    after = client.get_lock(res, durability=durability)
    assert after.fencing_token == 0
    assert hlc.physical_ms(after.expires_at) - hlc.physical_ms(before.expires_at) >= 28_000
    with pytest.raises(kahuna.InvalidOwnerError) as info:
        client.try_extend_lock(res, "w2", 60_000, durability=durability)
    assert info.value.code is Code.INVALID_OWNER
    assert client.get_lock(res, durability=durability) == after, "a refused extension changes nothing"


@BOTH
def test_unlock_is_for_the_owner(client, ns, durability):
    res = f"{ns}/job"
    with pytest.raises(kahuna.LockDoesNotExistError):
        client.unlock(res, "w1", durability=durability)
    client.try_lock(res, "w1", 10_000, durability=durability)
    with pytest.raises(kahuna.InvalidOwnerError):
        client.unlock(res, "w2", durability=durability)
    assert client.get_lock(res, durability=durability).owner == b"w1"
    assert client.unlock(res, "w1", durability=durability) is None
    with pytest.raises(kahuna.LockDoesNotExistError):
        client.get_lock(res, durability=durability)
    with pytest.raises(kahuna.LockDoesNotExistError):
        client.unlock(res, "w1", durability=durability)


@BOTH
def test_an_expired_lease_goes_to_the_next_owner_with_the_next_token(client, ns, durability):
    res = f"{ns}/job"
    assert client.try_lock(res, "w1", 300, durability=durability).fencing_token == 0
    assert not client.try_lock(res, "w2", 10_000, durability=durability).locked
    wait_for("the lease to run out", lambda: client.try_lock(res, "w2", 10_000, durability=durability).locked, 5)
    info = client.get_lock(res, durability=durability)
    assert (info.owner, info.fencing_token) == (b"w2", 1)
    with pytest.raises(kahuna.InvalidOwnerError):
        client.try_extend_lock(res, "w1", 10_000, durability=durability)
    with pytest.raises(kahuna.InvalidOwnerError):
        client.unlock(res, "w1", durability=durability)


@BOTH
def test_a_lapsed_lease_cannot_be_extended_and_its_owner_starts_a_new_grant(client, ns, durability):
    res = f"{ns}/job"
    client.try_lock(res, "w1", 200, durability=durability)
    time.sleep(0.4)
    assert is_free(client, res, durability)
    with pytest.raises(kahuna.LockDoesNotExistError):
        client.try_extend_lock(res, "w1", 10_000, durability=durability)
    again = client.try_lock(res, "w1", 10_000, durability=durability)
    assert (again.locked, again.fencing_token) == (True, 1), "after expiry even the owner is a new holder"


@BOTH
def test_a_lapsed_lease_nobody_took_can_still_be_unlocked(client, ns, durability):
    res = f"{ns}/job"
    client.try_lock(res, "w1", 200, durability=durability)
    time.sleep(0.4)
    client.unlock(res, "w1", durability=durability)
    with pytest.raises(kahuna.LockDoesNotExistError):
        client.unlock(res, "w1", durability=durability)
    assert client.try_lock(res, "w2", 10_000, durability=durability).fencing_token == 1


def test_the_durabilities_and_the_key_space_are_separate(client, ns):
    res = f"{ns}/job"
    assert client.try_lock(res, "p", 10_000).locked
    assert client.try_lock(res, "e", 10_000, durability=EPH) == kahuna.LockResult(True, 0)
    assert client.get_lock(res).owner == b"p"
    assert client.get_lock(res, durability=EPH).owner == b"e"
    assert client.try_get(res).found is False, "a lock is not a key"
    assert client.try_set(res, "v").set


def test_owner_may_be_bytes_str_or_bytearray(client, ns):
    res = f"{ns}/job"
    client.try_lock(res, "wörker", 10_000)
    assert client.get_lock(res).owner == "wörker".encode()
    assert client.try_lock(res, "wörker".encode(), 10_000).locked, "the same owner, as bytes"
    assert client.try_extend_lock(res, bytearray("wörker".encode()), 10_000) == 0
    client.unlock(res, b"w\xc3\xb6rker")
    assert is_free(client, res)


def test_async_client_lock_calls(cluster, ns):
    import asyncio

    async def main() -> None:
        async with await kahuna.AsyncClient.connect(cluster.endpoints) as c:
            res = f"{ns}/async"
            results = await asyncio.gather(*(c.try_lock(res, f"w{i}", 10_000) for i in range(5)))
            assert sorted(r.locked for r in results) == [False] * 4 + [True]
            winner = (await c.get_lock(res)).owner
            assert await c.try_extend_lock(res, winner, 20_000) == 0
            await c.unlock(res, winner)
            with pytest.raises(kahuna.LockDoesNotExistError):
                await c.get_lock(res)

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c, r, d: c.try_lock("", "w", 1_000, durability=d), "resource must not be empty"),
        (lambda c, r, d: c.try_lock(r, "", 1_000, durability=d), "owner must not be empty"),
        (lambda c, r, d: c.try_lock(r, b"", 1_000, durability=d), "owner must not be empty"),
        (lambda c, r, d: c.try_lock(r, "w", 0, durability=d), "expires_ms must be greater than 0, got 0"),
        (lambda c, r, d: c.try_lock(r, "w", -5, durability=d), "expires_ms must be greater than 0, got -5"),
        (lambda c, r, d: c.try_lock("__kahuna:x", "w", 1_000, durability=d), "reserved"),
        (lambda c, r, d: c.try_lock("k" * 4097, "w", 1_000, durability=d), "resource"),
        (lambda c, r, d: c.try_extend_lock("", "w", 1_000, durability=d), "resource must not be empty"),
        (lambda c, r, d: c.try_extend_lock(r, "", 1_000, durability=d), "owner must not be empty"),
        (lambda c, r, d: c.try_extend_lock(r, "w", 0, durability=d), "expires_ms must be greater than 0"),
        (lambda c, r, d: c.unlock("", "w", durability=d), "resource must not be empty"),
        (lambda c, r, d: c.unlock(r, "", durability=d), "owner must not be empty"),
        (lambda c, r, d: c.get_lock("", durability=d), "resource must not be empty"),
        (lambda c, r, d: c.lock("", ttl_ms=1_000, durability=d), "resource must not be empty"),
        (lambda c, r, d: c.lock(r, ttl_ms=0, durability=d), "ttl_ms must be greater than 0, got 0"),
        (lambda c, r, d: c.lock(r, ttl_ms=1_000, owner="", durability=d), "owner must not be empty"),
        (lambda c, r, d: c.lock(r, ttl_ms=1_000, wait=-1, durability=d), "wait must be None or"),
        (lambda c, r, d: c.lock(r, ttl_ms=1_000, wait=float("nan"), durability=d), "wait"),
        (lambda c, r, d: c.election("", "c", 1_000), "name must not be empty"),
        (lambda c, r, d: c.election(r, "", 1_000), "candidate must not be empty"),
        (lambda c, r, d: c.election(r, "c", 0), "ttl_ms must be greater than 0, got 0"),
        (lambda c, r, d: c.election(r, "c", 1_000).campaign(timeout=-1), "timeout must be None or"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
@BOTH
def test_invalid_lock_arguments_are_rejected_naming_them(client, ns, call, message, durability):
    res = f"{ns}/job"
    with pytest.raises(kahuna.InvalidInputError) as info:
        call(client, res, durability)
    assert info.value.code is Code.INVALID_INPUT
    assert message in info.value.message
    assert is_free(client, res, durability), "nothing was locked"


@BOTH
def test_the_server_refuses_an_owner_over_1024_bytes(client, ns, durability):
    res = f"{ns}/job"
    with pytest.raises(kahuna.InvalidInputError, match="owner"):
        client.try_lock(res, b"o" * 1025, 1_000, durability=durability)
    assert client.try_lock(res, b"o" * 1024, 1_000, durability=durability).locked


def test_a_handle_refuses_a_bad_extension(client, ns):
    with client.lock(f"{ns}/job", ttl_ms=5_000) as lk:
        with pytest.raises(kahuna.InvalidInputError, match="ttl_ms must be greater than 0, got -1"):
            lk.extend(ttl_ms=-1)
        assert lk.acquired


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.try_lock("r", 5, 1_000),
        lambda c: c.try_lock("r", None, 1_000),
        lambda c: c.try_lock(b"r", "w", 1_000),
        lambda c: c.try_lock("r", "w", 1.5),
        lambda c: c.try_lock("r", "w", "10"),
        lambda c: c.try_lock("r", "w", 1_000, Durability.PERSISTENT),
        lambda c: c.try_lock("r", "w", 1_000, durability=1),
        lambda c: c.try_extend_lock("r", 5, 1_000),
        lambda c: c.unlock("r", ["w"]),
        lambda c: c.get_lock(1),
        lambda c: c.lock("r"),
        lambda c: c.lock("r", 1_000),
        lambda c: c.lock("r", ttl_ms="1"),
        lambda c: c.lock("r", ttl_ms=1_000, owner=5),
        lambda c: c.lock("r", ttl_ms=1_000, wait="1"),
        lambda c: c.lock("r", ttl_ms=1_000, durability="ephemeral"),
        lambda c: c.election("r", 5, 1_000),
        lambda c: c.election("r", "c", "1000"),
    ],
)
def test_wrong_lock_argument_types_raise_type_error(client, call):
    with pytest.raises(TypeError):
        call(client)


def test_a_closed_client_refuses_lock_calls(cluster, ns):
    c = kahuna.Client(cluster.endpoints)
    c.close()
    for call in (
        lambda: c.try_lock(f"{ns}/r", "w", 1_000),
        lambda: c.get_lock(f"{ns}/r"),
        lambda: c.lock(f"{ns}/r", ttl_ms=1_000),
        lambda: c.election(f"{ns}/r", "c", 1_000).campaign(timeout=0),
    ):
        with pytest.raises(kahuna.InvalidInputError, match="the client is closed"):
            call()


# ---------------------------------------------------------------------------------------------
# The Lock handle


@BOTH
def test_the_context_manager_holds_the_lock_and_releases_it_on_exit(client, ns, durability):
    res = f"{ns}/job"
    with client.lock(res, ttl_ms=5_000, durability=durability) as lk:
        assert isinstance(lk, kahuna.Lock)
        assert lk.acquired and lk.fencing_token == 0
        assert 4.0 < lk.remaining <= 5.0
        assert (lk.resource, lk.ttl_ms, lk.durability) == (res, 5_000, durability)
        assert client.get_lock(res, durability=durability).owner == lk.owner
        assert not client.try_lock(res, "other", 5_000, durability=durability).locked
    assert not lk.acquired and lk.remaining == 0.0
    assert lk.fencing_token == 0, "the token of the last grant is kept"
    assert is_free(client, res, durability)
    lk.release()  # idempotent
    with client.lock(res, ttl_ms=5_000, durability=durability) as again:
        assert again.fencing_token == 1


def test_the_context_manager_releases_on_an_exception(client, ns):
    res = f"{ns}/job"
    with pytest.raises(ZeroDivisionError):
        with client.lock(res, ttl_ms=5_000) as lk:
            assert lk.acquired
            1 / 0
    assert not lk.acquired
    assert is_free(client, res)


def test_default_owners_are_unique_and_readable(client, ns):
    a = kahuna.Lock(client, f"{ns}/a", ttl_ms=1_000)
    b = kahuna.Lock(client, f"{ns}/a", ttl_ms=1_000)
    assert isinstance(a.owner, bytes) and a.owner != b.owner
    assert a.owner.count(b"/") == 2 and len(a.owner) < 300
    assert not a.acquired and a.fencing_token is None, "a Lock() is not acquired until acquire()"
    assert client.lock(f"{ns}/b", ttl_ms=1_000, owner="me").owner == b"me"
    assert repr(b) == f"Lock(resource='{ns}/a', owner={b.owner!r}, fencing_token=None, acquired=False)"


def test_entering_a_busy_lock_raises_lock_busy_error(client, ns):
    res = f"{ns}/job"
    holder = client.lock(res, ttl_ms=10_000)
    assert holder.acquired
    other = client.lock(res, ttl_ms=10_000)
    assert not other.acquired and other.fencing_token is None
    with pytest.raises(kahuna.LockBusyError) as info:
        with other:
            pytest.fail("the block must not run")
    e = info.value
    assert isinstance(e, kahuna.KahunaError) and not isinstance(e, kahuna.AbortedError)
    assert e.code is Code.ABORTED and not e.retriable
    assert e.resource == res and res in e.message
    assert client.get_lock(res).owner == holder.owner, "the holder keeps it"
    holder.release()
    assert other.acquire() is True and other.fencing_token == 1
    with other:
        assert other.acquired
    assert is_free(client, res)


def test_wait_acquires_once_the_holder_releases(client, ns):
    res = f"{ns}/job"
    holder = client.lock(res, ttl_ms=10_000)
    threading.Timer(0.3, holder.release).start()
    started = time.monotonic()
    with client.lock(res, ttl_ms=10_000, wait=5) as lk:
        elapsed = time.monotonic() - started
        assert lk.fencing_token == 1
    assert 0.25 <= elapsed < 2.0, elapsed


def test_wait_gives_up_after_wait_seconds(client, ns):
    res = f"{ns}/job"
    holder = client.lock(res, ttl_ms=10_000)
    started = time.monotonic()
    lk = client.lock(res, ttl_ms=10_000, wait=0.3)
    elapsed = time.monotonic() - started
    assert not lk.acquired
    assert 0.3 <= elapsed < 1.5, elapsed
    assert lk.acquire(wait=0) is False
    holder.release()


def test_extend_moves_the_lease(client, ns):
    res = f"{ns}/job"
    lk = client.lock(res, ttl_ms=300)
    assert lk.extend(ttl_ms=5_000) == 0
    time.sleep(0.5)
    assert lk.acquired and lk.remaining > 4.0
    assert not client.try_lock(res, "other", 1_000).locked
    assert lk.extend() == 0, "the handle's ttl_ms by default"
    lk.release()
    with pytest.raises(kahuna.LockDoesNotExistError):
        lk.extend()
    assert not lk.acquired


def test_acquired_turns_false_when_the_lease_runs_out(client, ns):
    res = f"{ns}/job"
    with client.lock(res, ttl_ms=200) as lk:
        time.sleep(0.3)
        assert not lk.acquired and lk.remaining == 0.0
    assert is_free(client, res), "leaving still released the lapsed grant"
    lk2 = client.lock(res, ttl_ms=200)
    time.sleep(0.3)
    with pytest.raises(kahuna.LockBusyError, match="lease ran out"):
        with lk2:
            pass


def test_leaving_after_the_lease_ran_out_and_someone_else_came_and_went_is_quiet(client, ns):
    res = f"{ns}/job"
    with client.lock(res, ttl_ms=200) as lk:
        taken = wait_for("the lease to run out", lambda: client.try_lock(res, "other", 5_000).locked, 5)
        assert taken
        client.unlock(res, "other")
    # unlock answered LockDoesNotExist, which release ignores
    assert is_free(client, res)


def test_leaving_after_another_owner_took_the_lock_raises_invalid_owner(client, ns):
    res = f"{ns}/job"
    with pytest.raises(kahuna.InvalidOwnerError):
        with client.lock(res, ttl_ms=200):
            wait_for("the lease to run out", lambda: client.try_lock(res, "other", 5_000).locked, 5)
    assert client.get_lock(res).owner == b"other"
    # ...but never hides the block's own exception.
    client.unlock(res, "other")
    with pytest.raises(KeyError):
        with client.lock(res, ttl_ms=200):
            wait_for("the lease to run out", lambda: client.try_lock(res, "other", 5_000).locked, 5)
            raise KeyError("the block's")


class FakeClient:
    """Answers lock calls as told, to reach the paths a healthy cluster rarely takes."""

    def __init__(self, unlock_error: BaseException | None = None) -> None:
        self.unlock_error = unlock_error
        self.unlocks = 0

    def try_lock(self, resource, owner, expires_ms, *, durability):
        return kahuna.LockResult(True, 7)

    def unlock(self, resource, owner, *, durability):
        self.unlocks += 1
        if self.unlock_error is not None:
            raise self.unlock_error


def test_a_release_sent_in_time_ignores_a_lock_taken_meanwhile():
    """The release was asked for within the lease, but the lease ran out before it got through
    (a failover) and another owner took the lock: mutual exclusion held, nothing is raised.
    The same answer to a release asked for after the lease ran out is raised."""
    taken = kahuna.InvalidOwnerError("resource 'r' is locked by another owner")
    fake = FakeClient(unlock_error=taken)
    in_time = kahuna.Lock(fake, "r", ttl_ms=10_000)  # type: ignore[arg-type]
    assert in_time.acquire() and in_time.fencing_token == 7
    in_time.release()
    late = kahuna.Lock(fake, "r", ttl_ms=50)  # type: ignore[arg-type]
    late.acquire()
    time.sleep(0.1)
    with pytest.raises(kahuna.InvalidOwnerError):
        late.release()
    assert fake.unlocks == 2
    late.release()
    assert fake.unlocks == 2, "release is idempotent, even after an error"


def test_keep_alive_holds_the_lock_past_its_ttl_until_released(client, ns):
    res = f"{ns}/job"
    with client.lock(res, ttl_ms=300, keep_alive=True) as lk:
        assert lk.keep_alive
        time.sleep(1.0)
        assert lk.acquired
        assert not client.try_lock(res, "other", 1_000).locked
        assert client.get_lock(res).fencing_token == lk.fencing_token == 0
        assert keepalive_threads()
    assert is_free(client, res)
    wait_for("release to stop the keep-alive thread", lambda: not keepalive_threads(), 3)


def test_keep_alive_notices_a_lost_lock(client, ns):
    res = f"{ns}/job"
    lk = client.lock(res, ttl_ms=300, keep_alive=True)
    client.unlock(res, lk.owner)  # e.g. an operator breaking the lock
    assert client.try_lock(res, "other", 10_000).locked
    wait_for("the keep-alive to notice", lambda: not lk.acquired, 3)
    wait_for("the keep-alive thread to end", lambda: not keepalive_threads(), 3)
    lk.release()  # nothing to release: quiet
    assert client.get_lock(res).owner == b"other"


def test_a_dropped_handle_stops_its_keep_alive(client, ns):
    res = f"{ns}/job"
    lk = client.lock(res, ttl_ms=300, keep_alive=True)
    del lk
    gc.collect()
    wait_for("the keep-alive thread to end", lambda: not keepalive_threads(), 3)
    wait_for("the lease to run out", lambda: is_free(client, res), 3)


# ---------------------------------------------------------------------------------------------
# Threads contending for one lock


@BOTH
def test_threads_contending_for_one_lock_never_hold_it_together(client, ns, durability):
    """Four threads take one lock five times each (with `wait=`), recording when they held it.
    The intervals never overlap, and the tokens, in the order of the intervals, are exactly
    0, 1, 2, ... (every grant went to a new owner)."""
    res = f"{ns}/contended"
    threads_n, rounds = 4, 5
    intervals: list[tuple[float, float, int]] = []
    errors: list[BaseException] = []
    inside = threading.Lock()

    def work() -> None:
        try:
            for _ in range(rounds):
                with client.lock(res, ttl_ms=10_000, wait=30, durability=durability) as lk:
                    start = time.monotonic()
                    assert inside.acquire(blocking=False), "two holders at once"
                    time.sleep(0.005)
                    inside.release()
                    intervals.append((start, time.monotonic(), lk.fencing_token))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    intervals.sort()
    assert len(intervals) == threads_n * rounds
    for (_, end, _), (start, _, _) in zip(intervals, intervals[1:]):
        assert end <= start, "two holders at once"
    assert [token for _, _, token in intervals] == list(range(threads_n * rounds))


# ---------------------------------------------------------------------------------------------
# Leader election


def test_an_election_hands_over_when_the_leader_resigns(client, ns):
    name = f"{ns}/scheduler"
    a = client.election(name, "node-a", 5_000)
    b = client.election(name, b"node-b", 5_000)
    assert (a.name, a.candidate, a.ttl_ms) == (name, b"node-a", 5_000)
    assert repr(a) == f"Election(name='{name}', candidate=b'node-a', ttl_ms=5000)"
    assert a.leader() is None
    la = a.campaign(timeout=0)
    assert isinstance(la, kahuna.Leadership)
    assert (la.fencing_token, la.is_leader, la.name, la.candidate) == (0, True, name, b"node-a")
    assert repr(la) == f"Leadership(name='{name}', candidate=b'node-a', fencing_token=0, is_leader=True)"
    leader = b.leader()
    assert isinstance(leader, kahuna.LeaderInfo)
    assert (leader.candidate, leader.fencing_token) == (b"node-a", 0)
    assert leader.expires_at > hlc.now()

    started = time.monotonic()
    assert b.campaign(timeout=0.3) is None
    assert time.monotonic() - started >= 0.3
    la.resign()
    assert not la.is_leader
    la.resign()  # idempotent

    started = time.monotonic()
    lb = b.campaign(timeout=5)
    assert lb is not None and lb.fencing_token == 1 and lb.is_leader
    assert time.monotonic() - started < 1.0, "a resignation hands over at once, not at expiry"
    assert a.leader().candidate == b"node-b"
    lb.resign()
    assert a.leader() is None


def test_campaign_waits_without_holding_the_gil(client, ns):
    """`campaign(timeout=None)` waits until the leader resigns, 0.5 s later; meanwhile this
    thread keeps running Python code."""
    name = f"{ns}/scheduler"
    la = client.election(name, "a", 5_000).campaign(timeout=0)
    assert la is not None
    won: list[kahuna.Leadership | None] = []
    waiter = threading.Thread(target=lambda: won.append(client.election(name, "b", 5_000).campaign()))
    started = time.monotonic()
    waiter.start()
    spins = 0
    while time.monotonic() - started < 0.5:
        spins += 1
    la.resign()
    waiter.join(timeout=10)
    assert spins > 1_000, "this thread ran Python code while the other one campaigned"
    assert len(won) == 1 and won[0] is not None and won[0].fencing_token == 1
    assert time.monotonic() - started < 3
    won[0].resign()


def test_the_keep_alive_keeps_a_leader_past_its_ttl(client, ns):
    name = f"{ns}/scheduler"
    with client.election(name, "a", 300).campaign(timeout=0) as la:
        time.sleep(1.0)
        assert la.is_leader
        assert client.election(name, "b", 300).campaign(timeout=0) is None
        assert client.get_lock(name).fencing_token == 0
    assert not la.is_leader
    assert is_free(client, name), "leaving the block resigned"


def test_the_context_manager_resigns_on_an_exception(client, ns):
    name = f"{ns}/scheduler"
    with pytest.raises(ZeroDivisionError):
        with client.election(name, "a", 5_000).campaign(timeout=0) as la:
            1 / 0
    assert not la.is_leader
    assert client.election(name, "a", 5_000).leader() is None


def test_a_leader_that_crashes_is_replaced_when_its_lease_runs_out(cluster, client, ns):
    """The leader's process "dies" (its client closes, so the keep-alive fails): the other
    candidate takes over once the lease has run out, with the next token, and the old
    leadership learns that it no longer leads."""
    name = f"{ns}/scheduler"
    doomed = kahuna.Client(cluster.endpoints)
    la = doomed.election(name, "a", 600).campaign(timeout=0)
    assert la is not None and la.fencing_token == 0
    doomed.close()
    started = time.monotonic()
    lb = client.election(name, "b", 600).campaign(timeout=10)
    waited = time.monotonic() - started
    assert lb is not None and lb.fencing_token == 1
    assert 0.3 <= waited < 5, waited
    wait_for("the old leader to know", lambda: not la.is_leader, 2)
    la.resign()  # nothing left to release
    lb.resign()


def test_a_leader_whose_lock_is_broken_stops_leading(client, ns):
    name = f"{ns}/scheduler"
    la = client.election(name, "a", 600).campaign(timeout=0)
    assert la is not None
    client.unlock(name, "a")  # an operator breaking the lock
    lb = client.election(name, "b", 600).campaign(timeout=0)
    assert lb is not None and lb.fencing_token == 1
    wait_for("the old leader to know", lambda: not la.is_leader, 2)
    la.resign()  # must not release b's lock
    assert client.election(name, "x", 600).leader().candidate == b"b"
    lb.resign()


def test_a_collected_leadership_resigns(client, ns):
    name = f"{ns}/scheduler"
    la = client.election(name, "a", 30_000).campaign(timeout=0)
    assert la is not None
    del la
    gc.collect()
    started = time.monotonic()
    lb = client.election(name, "b", 30_000).campaign(timeout=5)
    assert lb is not None and lb.fencing_token == 1
    assert time.monotonic() - started < 2, "resigned, not expired (the lease was 30 s)"
    lb.resign()
