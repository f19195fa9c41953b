"""The client object: construction, close and the context manager, sharing one client
between threads, and the asyncio facade."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

import kahuna
from kahuna import Durability


def test_endpoints_may_be_a_list_or_one_comma_separated_string(cluster):
    with kahuna.Client(",".join(cluster.endpoints), timeout=5) as c:
        assert c.endpoints == cluster.endpoints
        assert c.timeout == 5.0
        assert c.topology().partition_count == cluster.partitions
    with kahuna.Client(tuple(cluster.endpoints[:1])) as c:
        assert c.try_exists("anything").revision == -1, "one seed is enough: it learns the rest"


def test_close_makes_every_later_call_fail(cluster, ns):
    c = kahuna.Client(cluster.endpoints)
    pages = c.scan_pages_by_prefix(ns)
    assert c.closed is False
    assert repr(c) == f"Client(endpoints={cluster.endpoints!r}, timeout=10.0, closed=False)"
    c.close()
    assert c.closed is True and repr(c).endswith("closed=True)")
    for call in (
        lambda: c.try_get(f"{ns}/k"),
        lambda: c.try_set(f"{ns}/k", "v"),
        lambda: c.get_by_bucket(ns),
        lambda: c.topology(),
        lambda: next(pages),
    ):
        with pytest.raises(kahuna.InvalidInputError, match="the client is closed"):
            call()
    c.close()  # idempotent


def test_the_context_manager_closes_and_lets_exceptions_through(cluster, ns):
    with kahuna.Client(cluster.endpoints) as c:
        assert c.try_set(f"{ns}/k", "v").set
    assert c.closed
    with pytest.raises(ZeroDivisionError):
        with kahuna.Client(cluster.endpoints) as c2:
            1 / 0
    assert c2.closed


def test_signatures_are_introspectable():
    sig = inspect.signature(kahuna.Client.try_set)
    assert list(sig.parameters)[1:3] == ["key", "value"]
    assert sig.parameters["durability"].default is Durability.PERSISTENT
    assert sig.parameters["expires_ms"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(kahuna.Client.scan_by_prefix).parameters["limit"].default == 100
    assert kahuna.Client.try_get.__doc__


def test_threads_share_one_client(client, ns):
    """Eight threads, one client: private keys stay consistent, and a compare-and-set loop
    on one shared counter loses no increment."""
    counter = f"{ns}/counter"
    client.try_set(counter, "0")
    errors: list[BaseException] = []
    threads_n, increments = 8, 10

    def work(t: int) -> None:
        try:
            for i in range(increments):
                mine = f"{ns}/thread-{t}"
                assert client.try_set(mine, f"{t}:{i}").revision == i
                assert client.try_get(mine).value == f"{t}:{i}".encode()
                while True:
                    got = client.try_get(counter)
                    n = int(got.value)
                    if client.try_compare_revision_and_set(counter, str(n + 1), got.revision).set:
                        break
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    final = client.try_get(counter)
    assert int(final.value) == threads_n * increments
    assert final.revision == threads_n * increments


def test_async_client_runs_calls_concurrently(cluster, ns):
    async def main() -> None:
        async with await kahuna.AsyncClient.connect(cluster.endpoints, timeout=10) as c:
            assert repr(c).startswith("AsyncClient(endpoints=")
            results = await asyncio.gather(*(c.try_set(f"{ns}/a/{i:02}", str(i)) for i in range(20)))
            assert all(r.set and r.revision == 0 for r in results)
            assert (await c.try_get(f"{ns}/a/07")).value == b"7"
            assert (await c.try_exists(f"{ns}/a/07")).exists
            cas = await c.try_compare_value_and_set(f"{ns}/a/07", "seven", "7")
            assert cas.set and cas.revision == 1
            cas = await c.try_compare_revision_and_set(f"{ns}/a/07", "VII", 1, expires_ms=60_000)
            assert cas.set and cas.revision == 2
            assert (await c.try_get_revision(f"{ns}/a/07", 1)).value == b"seven"
            assert (await c.try_get_as_of(f"{ns}/a/07", cas.last_modified)).value == b"VII"
            assert (await c.try_extend(f"{ns}/a/07", 120_000)).extended
            assert len(await c.get_by_bucket(f"{ns}/a")) == 20
            page = await c.scan_by_prefix(f"{ns}/a/", limit=5)
            assert len(page) == 5 and page.cursor is not None
            keys = [e.key async for p in c.scan_pages_by_prefix(f"{ns}/a/", limit=6) for e in p]
            assert keys == [f"{ns}/a/{i:02}" for i in range(20)]
            assert (await c.try_delete(f"{ns}/a/07")).deleted
            eph = await c.try_set(f"{ns}/e", "x", durability=Durability.EPHEMERAL)
            assert eph.set
            assert (await c.topology()).partition_count == cluster.partitions
            assert c.sync.try_get(f"{ns}/a/00").value == b"0"
            with pytest.raises(kahuna.InvalidInputError):
                await c.try_set("", "v")
        assert c.closed
        with pytest.raises(kahuna.InvalidInputError, match="closed"):
            await c.try_get(f"{ns}/a/00")

    asyncio.run(main())
