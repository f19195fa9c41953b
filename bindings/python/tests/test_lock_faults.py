"""Locks under faults, each on a cluster of the test's own: threads contending for one
Persistent lock while its partition's leader is SIGKILLed, and lease holders whose extensions
hang because that leader is paused."""

from __future__ import annotations

import threading
import time

import pytest

import kahuna

#: What a call may raise while its partition fails over (the outcome of a write that timed out
#: is unknown: a `with` whose unlock timed out leaves the lock to expire).
TRANSIENT = (kahuna.TimeoutError, kahuna.UnavailableError, kahuna.MustRetryError)


def test_contention_survives_a_leader_kill_with_strictly_increasing_tokens(own_cluster, ns):
    """Four threads take one lock over and over (`with client.lock(..., wait=...)`), recording
    when they held it and with which token; the lock's partition leader is killed meanwhile.
    Persistent locks survive the failover: grants go on after it, no two holders ever overlap,
    and the tokens, in the order the holders held the lock, strictly increase.

    The failover (and the new leader waiting out the old term's lease) outlasts the 2 s lease,
    so some grants are never used (a `try_lock` that returned after the lease it got had run
    out: entering raises `LockBusyError`; one whose answer was lost: `TimeoutError`), hence
    the gaps between tokens; and a release stuck in the failover may find the lock taken,
    which a release asked for within the lease ignores."""
    res = f"{ns}/contended"
    c = kahuna.Client(own_cluster.endpoints, timeout=10)
    stop = threading.Event()
    grants: list[tuple[float, float, int]] = []
    transient: list[BaseException] = []
    errors: list[BaseException] = []
    inside = threading.Lock()

    def work() -> None:
        while not stop.is_set():
            try:
                with c.lock(res, ttl_ms=2_000, wait=15) as lk:
                    start = time.monotonic()
                    if not inside.acquire(blocking=False):
                        errors.append(AssertionError(f"two holders at once (token {lk.fencing_token})"))
                        continue
                    time.sleep(0.005)
                    inside.release()
                    grants.append((start, time.monotonic(), lk.fencing_token))
            except kahuna.LockBusyError:
                continue
            except TRANSIENT as e:
                transient.append(e)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
                return

    def after(t: float) -> int:
        return sum(1 for start, _, _ in grants if start > t)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while after(0) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = own_cluster.leader(own_cluster.partition_of(res))
        own_cluster.kill(victim)
        killed_at = time.monotonic()
        deadline = killed_at + 20
        while after(killed_at) < 10 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)

    assert not errors, errors
    grants.sort()
    before_kill = [g for g in grants if g[0] <= killed_at]
    after_kill = [g for g in grants if g[0] > killed_at]
    assert len(before_kill) >= 10 and len(after_kill) >= 10, (len(before_kill), len(after_kill), transient)
    for (_, end, token), (start, _, next_token) in zip(grants, grants[1:]):
        assert end <= start, f"tokens {token} and {next_token} were held at once"
        assert next_token > token, f"token {next_token} was granted after {token}"
    assert own_cluster.leader(own_cluster.partition_of(res)) != victim
    with c.lock(res, ttl_ms=2_000, wait=10) as lk:
        assert lk.fencing_token > grants[-1][2]
    c.close()



def pause_leader_of(cluster, resource: str) -> int:
    """Pauses (SIGSTOP) the node leading `resource`'s partition: calls to it hang."""
    victim = cluster.leader(cluster.partition_of(resource))
    cluster.pause(victim)
    return victim


def test_a_kept_alive_handle_stops_claiming_a_lease_it_cannot_extend(own_cluster, ns):
    """The keep-alive's extensions hang on a paused leader (a write waits for its deadline):
    `acquired` still turns False when the lease it knows of ends, not when a call returns."""
    res = f"{ns}/job"
    c = kahuna.Client(own_cluster.endpoints, timeout=3)
    lk = c.lock(res, ttl_ms=600, keep_alive=True)
    assert lk.acquired
    time.sleep(0.3)  # one extension done
    victim = pause_leader_of(own_cluster, res)
    paused_at = time.monotonic()
    while lk.acquired:
        time.sleep(0.01)
    lost_after = time.monotonic() - paused_at
    assert lost_after < 0.9, f"acquired stayed True {lost_after:.2f} s after the last possible extension"
    own_cluster.resume(victim)
    lk.release()  # the lapsed grant (or nothing) is released once the cluster answers again
    c.close()


def test_a_leader_whose_extensions_hang_stops_leading_when_its_lease_ends(own_cluster, ns):
    name = f"{ns}/scheduler"
    c = kahuna.Client(own_cluster.endpoints, timeout=4)
    leadership = c.election(name, "a", 600).campaign(timeout=0)
    assert leadership is not None
    time.sleep(0.3)
    victim = pause_leader_of(own_cluster, name)
    time.sleep(1.2)  # twice the lease
    still_leader = leadership.is_leader
    own_cluster.resume(victim)
    assert not still_leader, "is_leader was still True twice the lease after the last extension"
