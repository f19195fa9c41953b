"""Faults, each on a cluster of the test's own: a slow call does not hold the GIL and ends
in a TimeoutError at the deadline, and a loop of calls survives the leader being killed."""

from __future__ import annotations

import threading
import time

import kahuna


def test_a_waiting_call_releases_the_gil_and_times_out(own_cluster, ns):
    """Every node paused: a read waits for its whole deadline. Meanwhile another Python thread
    keeps running Python code, which it could not do if the call held the GIL."""
    key = f"{ns}/slow"
    c = kahuna.Client(own_cluster.endpoints, timeout=1.5, read_attempt_timeout=0.5)
    c.try_set(key, "v")
    for i in range(own_cluster.nodes):
        own_cluster.pause(i)

    entered = threading.Event()
    outcome: list[BaseException | object] = []

    def slow() -> None:
        entered.set()
        try:
            outcome.append(c.try_get(key))
        except BaseException as e:  # noqa: BLE001 - checked below
            outcome.append(e)

    started = time.monotonic()
    waiter = threading.Thread(target=slow)
    waiter.start()
    entered.wait()
    time.sleep(0.1)  # let the waiter get into the native call
    spins = 0
    until = time.monotonic() + 0.5
    while time.monotonic() < until:
        spins += 1
    assert waiter.is_alive(), "the call returned early: nothing was waiting"
    assert spins > 1_000, "this thread ran Python code while the other one was in the call"
    waiter.join(timeout=30)
    elapsed = time.monotonic() - started

    assert len(outcome) == 1 and isinstance(outcome[0], kahuna.TimeoutError), outcome
    assert isinstance(outcome[0], TimeoutError) and outcome[0].code is kahuna.Code.TIMEOUT
    assert 1.4 <= elapsed <= 5, elapsed

    for i in range(own_cluster.nodes):
        own_cluster.resume(i)
    own_cluster.wait_ready()
    assert c.try_get(key).value == b"v", "the client recovers when the cluster does"
    c.close()


def write_resolving_unknown_outcome(c: kahuna.Client, key: str, value: str, unknown: list[str]) -> int:
    """`try_set`, resolving an unknown outcome the way an application must: read the key, and
    write again only if the value is not there. Returns the revision the value got.

    A SIGKILLed leader's sockets close under the client, and a write the client sends before
    its I/O thread has seen the close fails as "outcome unknown" (the client never retries an
    in-flight write); every such case is appended to `unknown`."""
    try:
        r = c.try_set(key, value)
    except kahuna.TimeoutError as e:
        if "outcome is unknown" not in str(e):
            raise
        unknown.append(str(e))
        got = c.try_get(key)
        if got.value == value.encode():
            return got.revision
        r = c.try_set(key, value)
    assert r.set
    return r.revision


def test_calls_keep_succeeding_when_the_leader_is_killed(own_cluster, ns):
    """A writer and a reader loop on one key; its partition's leader is SIGKILLed between
    two writes. The client's retries hide the failover: every read succeeds, and every write
    succeeds but at most the one racing the kill, whose unknown outcome a read resolves."""
    key = f"{ns}/failover"
    c = kahuna.Client(own_cluster.endpoints, timeout=10)
    stop = threading.Event()
    reads: list[int] = []
    read_errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                got = c.try_get(key)
                reads.append(got.revision)
            except BaseException as e:  # noqa: BLE001 - checked below
                read_errors.append(e)

    c.try_set(key, "0")
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 20):
            assert c.try_set(key, str(i)).revision == i
        victim = own_cluster.leader(own_cluster.partition_of(key))
        own_cluster.kill(victim)
        killed_at = time.monotonic()
        unknown: list[str] = []
        for i in range(20, 40):
            assert write_resolving_unknown_outcome(c, key, str(i), unknown) == i
        failover = time.monotonic() - killed_at
        assert len(unknown) <= 1, unknown
    finally:
        stop.set()
        thread.join(timeout=30)

    assert not read_errors, read_errors
    assert reads == sorted(reads), "reads never go back in time"
    got = c.try_get(key)
    assert (got.value, got.revision) == (b"39", 39)
    assert own_cluster.leader(own_cluster.partition_of(key)) != victim
    assert failover < 10
    own_cluster.restart(victim)
    own_cluster.wait_ready()
    assert c.try_get(key).value == b"39"
    c.close()
