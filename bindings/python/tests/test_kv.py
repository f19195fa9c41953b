"""Every key/value operation through the Python client against a real 3-node cluster,
in both durabilities, with the rules of SEMANTICS.md as the expected results."""

from __future__ import annotations

import time

import pytest

import kahuna
from kahuna import Durability, hlc

BOTH = pytest.mark.parametrize("durability", list(Durability), ids=lambda d: d.name.lower())


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


@BOTH
def test_set_then_get_returns_the_value_and_revision_0(client, ns, durability):
    key = f"{ns}/greeting"
    r = client.try_set(key, b"hello", durability=durability)
    assert isinstance(r, kahuna.SetResult)
    assert (r.set, r.revision) == (True, 0)
    assert r.last_modified > 0
    got = client.try_get(key, durability=durability)
    assert isinstance(got, kahuna.GetResult)
    assert (got.found, got.value, got.revision, got.expires_at) == (True, b"hello", 0, 0)
    assert got.last_modified == r.last_modified


@BOTH
def test_revisions_count_sets_and_a_missing_key_reports_minus_1(client, ns, durability):
    key = f"{ns}/counter"
    missing = client.try_get(key, durability=durability)
    assert (missing.found, missing.value, missing.revision) == (False, b"", -1)
    assert [client.try_set(key, str(i), durability=durability).revision for i in range(3)] == [0, 1, 2]
    assert client.try_get(key, durability=durability).value == b"2"


def test_str_values_are_utf8_and_bytes_like_values_are_accepted(client, ns):
    key = f"{ns}/text"
    client.try_set(key, "grüße ☃")
    assert client.try_get(key).value == "grüße ☃".encode()
    client.try_set(key, bytearray(b"\x00\xff"))
    assert client.try_get(key).value == b"\x00\xff"
    client.try_set(key, b"")
    got = client.try_get(key)
    assert (got.found, got.value) == (True, b""), "an empty value is a value"


def test_the_two_durabilities_are_separate_keyspaces(client, ns):
    key = f"{ns}/same-name"
    client.try_set(key, "persistent")
    assert client.try_get(key, durability=Durability.EPHEMERAL).found is False
    client.try_set(key, "ephemeral", durability=Durability.EPHEMERAL)
    assert client.try_get(key).value == b"persistent"
    assert client.try_get(key, durability=Durability.EPHEMERAL).value == b"ephemeral"


@BOTH
def test_if_exists_and_if_not_exists(client, ns, durability):
    key = f"{ns}/cond"
    r = client.try_set(key, "a", if_exists=True, durability=durability)
    assert (r.set, r.revision, r.last_modified) == (False, -1, 0)
    assert client.try_set(key, "a", if_not_exists=True, durability=durability).set is True
    r = client.try_set(key, "b", if_not_exists=True, durability=durability)
    assert (r.set, r.revision) == (False, 0), "a failed condition reports the current revision"
    assert client.try_set(key, "b", if_exists=True, durability=durability).revision == 1
    assert client.try_get(key, durability=durability).value == b"b"


@BOTH
def test_compare_value_and_set(client, ns, durability):
    key = f"{ns}/cvs"
    assert client.try_compare_value_and_set(key, "x", "", durability=durability).set is False
    client.try_set(key, "one", durability=durability)
    assert client.try_compare_value_and_set(key, "two", b"nope", durability=durability).set is False
    r = client.try_compare_value_and_set(key, "two", "one", durability=durability)
    assert (r.set, r.revision) == (True, 1)
    assert client.try_get(key, durability=durability).value == b"two"


@BOTH
def test_compare_revision_and_set(client, ns, durability):
    key = f"{ns}/crs"
    assert client.try_compare_revision_and_set(key, "x", 0, durability=durability).set is False
    client.try_set(key, "one", durability=durability)
    r = client.try_compare_revision_and_set(key, "two", 5, durability=durability)
    assert (r.set, r.revision) == (False, 0)
    r = client.try_compare_revision_and_set(key, "two", 0, expires_ms=60_000, durability=durability)
    assert (r.set, r.revision) == (True, 1)
    assert client.try_get(key, durability=durability).expires_at > 0


@BOTH
def test_exists_and_delete_keep_the_revision(client, ns, durability):
    key = f"{ns}/gone"
    assert (client.try_exists(key, durability=durability).exists, client.try_exists(key).revision) == (False, -1)
    d = client.try_delete(key, durability=durability)
    assert isinstance(d, kahuna.DeleteResult)
    assert (d.deleted, d.revision) == (False, -1)
    client.try_set(key, "v", durability=durability)
    e = client.try_exists(key, durability=durability)
    assert isinstance(e, kahuna.ExistsResult)
    assert (e.exists, e.revision) == (True, 0)
    d = client.try_delete(key, durability=durability)
    assert (d.deleted, d.revision) == (True, 0), "delete does not increment the revision"
    assert client.try_delete(key, durability=durability).deleted is False
    assert client.try_exists(key, durability=durability).exists is False
    assert client.try_get(key, durability=durability).found is False
    assert client.try_set(key, "again", durability=durability).revision == 1, "a set after delete continues"


@BOTH
def test_expiry_and_extend(client, ns, durability):
    key = f"{ns}/ttl"
    r = client.try_set(key, "short", expires_ms=400, durability=durability)
    got = client.try_get(key, durability=durability)
    assert got.expires_at > got.last_modified
    assert 300 <= hlc.physical_ms(got.expires_at) - hlc.physical_ms(r.last_modified) <= 500
    x = client.try_extend(key, 60_000, durability=durability)
    assert isinstance(x, kahuna.ExtendResult)
    assert (x.extended, x.revision) == (True, 0), "extend keeps the revision"
    assert client.try_get(key, durability=durability).expires_at > got.expires_at

    other = f"{ns}/ttl-short"
    client.try_set(other, "short", expires_ms=150, durability=durability)
    wait_for("the key to expire", lambda: not client.try_get(other, durability=durability).found)
    assert client.try_exists(other, durability=durability).exists is False
    x = client.try_extend(other, 1_000, durability=durability)
    assert x.extended is False, "an expired key is not live"
    assert client.try_extend(f"{ns}/never", 1_000, durability=durability).extended is False


def test_get_revision_reads_retained_versions(client, ns):
    key = f"{ns}/history"
    for v in ("v0", "v1", "v2"):
        client.try_set(key, v)
    old = client.try_get_revision(key, 1)
    assert (old.found, old.value, old.revision) == (True, b"v1", 1)
    assert client.try_get_revision(key, 7).found is False
    assert client.try_get_revision(f"{ns}/never", 0).found is False


def test_no_revision_drops_the_superseded_version(client, ns):
    key = f"{ns}/no-history"
    client.try_set(key, "v0")
    assert client.try_set(key, "v1", no_revision=True).revision == 1
    assert client.try_get_revision(key, 0).found is False
    assert client.try_get_revision(key, 1).value == b"v1"


def test_get_as_of_reads_the_version_at_a_timestamp(client, ns):
    key = f"{ns}/as-of"
    first = client.try_set(key, "first")
    second = client.try_set(key, "second")
    assert second.last_modified > first.last_modified
    assert client.try_get_as_of(key, first.last_modified).value == b"first"
    assert client.try_get_as_of(key, second.last_modified).value == b"second"
    assert client.try_get_as_of(key, first.last_modified - 1).found is False
    assert client.try_get_as_of(key, hlc.now()).value == b"second"


@BOTH
def test_get_by_bucket_returns_the_direct_children_in_order(client, ns, durability):
    for key in (f"{ns}/b", f"{ns}/a", f"{ns}/a/deeper", ns):
        client.try_set(key, key, durability=durability)
    client.try_set(f"{ns}/c", "c", durability=durability)
    client.try_delete(f"{ns}/c", durability=durability)
    entries = client.get_by_bucket(ns, durability=durability)
    assert [e.key for e in entries] == [f"{ns}/a", f"{ns}/b"]
    assert all(isinstance(e, kahuna.Entry) for e in entries)
    assert entries[0].value == f"{ns}/a".encode()
    assert entries[0].revision == 0 and entries[0].last_modified > 0
    assert client.get_by_bucket(f"{ns}-empty", durability=durability) == []


@BOTH
def test_scan_by_prefix_pages_through_one_snapshot(client, ns, durability):
    keys = [f"{ns}/scan/{i:02}" for i in range(25)]
    for key in keys:
        client.try_set(key, key, durability=durability)
    first = client.scan_by_prefix(f"{ns}/scan/", limit=10, durability=durability)
    assert isinstance(first, kahuna.ScanPage)
    assert len(first) == 10 and first.cursor is not None and first.snapshot > 0
    client.try_set(f"{ns}/scan/zz-after-the-snapshot", "late", durability=durability)
    seen = [e.key for e in first]
    page = first
    while page.cursor is not None:
        page = client.scan_by_prefix(f"{ns}/scan/", limit=10, cursor=page.cursor, durability=durability)
        assert page.snapshot == first.snapshot
        seen.extend(e.key for e in page.entries)
    assert seen == keys, "ordered, and the key written after the first page is not seen"


@BOTH
def test_scan_pages_by_prefix_iterates_over_every_page(client, ns, durability):
    keys = [f"{ns}/it/{i:02}" for i in range(7)]
    for key in keys:
        client.try_set(key, b"v", durability=durability)
    pages = client.scan_pages_by_prefix(f"{ns}/it/", limit=3, durability=durability)
    assert iter(pages) is pages
    listed = list(pages)
    assert [len(p) for p in listed] == [3, 3, 1]
    assert [e.key for p in listed for e in p] == keys
    assert len({p.snapshot for p in listed}) == 1
    assert next(pages, None) is None, "an exhausted iterator stays exhausted"
    assert [len(p) for p in client.scan_pages_by_prefix(f"{ns}/none/")] == [0]
    assert len(client.scan_by_prefix(f"{ns}/it/", limit=0, durability=durability)) == 7, "0: the default"


def test_topology_describes_the_cluster(client, cluster):
    t = client.topology()
    assert isinstance(t, kahuna.Topology)
    assert t.partition_count == cluster.partitions == len(t.leaders) == len(t.terms)
    assert sorted(address for _, address in t.nodes) == sorted(cluster.endpoints)
    assert t.answered_by in {node for node, _ in t.nodes}
    assert all(leader in {node for node, _ in t.nodes} for leader in t.leaders)
    assert t.address_of(t.nodes[0][0]) == t.nodes[0][1]
    assert t.address_of(999) is None
    assert t.cluster_id != 0 and t.cluster_name


def test_results_are_immutable_comparable_and_readable(client, ns):
    key = f"{ns}/result"
    r = client.try_set(key, b"v")
    with pytest.raises(AttributeError):
        r.set = False  # type: ignore[misc]
    assert r == kahuna.SetResult(set=True, revision=0, last_modified=r.last_modified)
    assert hash(r) == hash(kahuna.SetResult(True, 0, r.last_modified))
    assert repr(r) == f"SetResult(set=True, revision=0, last_modified={r.last_modified})"
    got = client.try_get(key)
    assert repr(got).startswith("GetResult(found=True, value=b'v', revision=0, expires_at=0, ")
    client.try_set(key, b"x" * 10_000)
    long = repr(client.try_get(key))
    assert "...(10000 bytes)" in long and len(long) < 300, "long values are shortened in repr"
    assert repr(client.try_exists(key)) == "ExistsResult(exists=True, revision=1)"
    assert repr(client.try_delete(key)) == "DeleteResult(deleted=True, revision=1)"
    assert repr(client.try_extend(key, 10)) == "ExtendResult(extended=False, revision=1)"
    assert repr(Durability.EPHEMERAL) == "Durability.EPHEMERAL"


def test_hlc_timestamps_carry_wall_clock_milliseconds(client, ns):
    before = time.time()
    r = client.try_set(f"{ns}/clock", "t")
    assert abs(hlc.to_seconds(r.last_modified) - before) < 5
    assert hlc.from_ms(hlc.physical_ms(r.last_modified)) + hlc.logical(r.last_modified) == r.last_modified
