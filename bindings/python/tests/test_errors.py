"""Status codes, the exception tree, and what bad arguments raise: a `TypeError` for a wrong
type, an `InvalidInputError` (also a `ValueError`) for a bad value, before anything is sent
when the client can tell, or from the server when only it can."""

from __future__ import annotations

import builtins
import pickle

import pytest

import kahuna
from kahuna import Code, Durability, hlc
from kahuna._kahuna import _codes, _error_for_code

EXPECTED = {
    Code.INVALID_INPUT: kahuna.InvalidInputError,
    Code.NOT_FOUND: kahuna.NotFoundError,
    Code.ABORTED: kahuna.AbortedError,
    Code.MUST_RETRY: kahuna.MustRetryError,
    Code.UNAVAILABLE: kahuna.UnavailableError,
    Code.TIMEOUT: kahuna.TimeoutError,
    Code.LOCK_DOES_NOT_EXIST: kahuna.LockDoesNotExistError,
    Code.INVALID_OWNER: kahuna.InvalidOwnerError,
    Code.INTERNAL: kahuna.InternalError,
    Code.RESOURCE_EXHAUSTED: kahuna.ResourceExhaustedError,
}


def test_code_numbers_match_the_client_core():
    core = _codes()
    assert [(c.value, c.name) for c in Code] == [
        (n, "".join(f"_{ch}" if ch.isupper() else ch.upper() for ch in name).lstrip("_")) for n, name in core
    ]
    assert (Code.OK, Code.MUST_RETRY, Code.INTERNAL, Code.RESOURCE_EXHAUSTED) == (0, 4, 9, 10)
    assert [c for c in Code if c.retriable] == [Code.MUST_RETRY, Code.UNAVAILABLE]


@pytest.mark.parametrize("code", list(EXPECTED), ids=lambda c: c.name.lower())
def test_every_core_code_maps_to_its_exception(code):
    e = _error_for_code(code.value, f"what went wrong ({code.name})")
    assert type(e) is EXPECTED[code]
    assert isinstance(e, kahuna.KahunaError)
    assert e.code is code and isinstance(e.code, Code)
    assert e.message == str(e) == f"what went wrong ({code.name})"
    assert e.retriable == (code in (Code.MUST_RETRY, Code.UNAVAILABLE))
    assert repr(e) == f"{EXPECTED[code].__name__}('what went wrong ({code.name})', code=Code.{code.name})"
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.code, again.message) == (type(e), e.code, e.message)


def test_ok_is_never_raised_as_success():
    e = _error_for_code(0, "odd")
    assert type(e) is kahuna.InternalError
    assert "unexpected status code 0" in e.message


def test_the_exception_tree_fits_python_idioms():
    assert issubclass(kahuna.TimeoutError, builtins.TimeoutError)
    assert issubclass(kahuna.InvalidInputError, ValueError)
    assert kahuna.TimeoutError is not builtins.TimeoutError
    assert all(issubclass(cls, kahuna.KahunaError) for cls in EXPECTED.values())
    with pytest.raises(builtins.TimeoutError):
        raise _error_for_code(Code.TIMEOUT, "deadline passed")


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda c: c.try_set("", "v"), "key must not be empty"),
        (lambda c: c.try_get(""), "key must not be empty"),
        (lambda c: c.try_set("__kahuna:x", "v"), "reserved"),
        (lambda c: c.try_delete("__kahuna:locks/a"), "reserved"),
        (lambda c: c.try_exists("k" * 4097), "key"),
        (lambda c: c.try_set("k", "v", expires_ms=-1), "expires_ms must not be negative, got -1"),
        (lambda c: c.try_compare_value_and_set("k", "v", "w", expires_ms=-5), "expires_ms"),
        (lambda c: c.try_compare_revision_and_set("k", "v", 0, expires_ms=-5), "expires_ms"),
        (lambda c: c.try_extend("k", 0), "expires_ms must be greater than 0"),
        (lambda c: c.try_extend("k", -10), "expires_ms"),
        (lambda c: c.try_set("k", "v", if_exists=True, if_not_exists=True), "if_exists"),
        (lambda c: c.try_get_revision("k", -1), "revision must not be negative"),
        (lambda c: c.try_get_as_of("k", 0), "timestamp"),
        (lambda c: c.try_get_as_of("k", -3), "timestamp"),
        (lambda c: c.try_get_as_of("k", 2**64), "timestamp"),
        (lambda c: c.scan_by_prefix("p", limit=-1), "limit"),
        (lambda c: c.scan_pages_by_prefix("p", limit=-1), "limit"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_invalid_arguments_are_rejected_naming_them(client, call, argument):
    with pytest.raises(kahuna.InvalidInputError) as info:
        call(client)
    assert info.value.code is Code.INVALID_INPUT
    assert argument in info.value.message


def test_the_server_rejects_what_only_it_can_judge(client, ns):
    with pytest.raises(kahuna.InvalidInputError, match="max-value-bytes"):
        client.try_set(f"{ns}/big", b"x" * (16 * 1024 * 1024 + 1))
    far_future = hlc.from_ms(hlc.physical_ms(hlc.now()) + 3_600_000)
    with pytest.raises(kahuna.InvalidInputError):
        client.try_get_as_of(f"{ns}/k", far_future)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.try_set(b"key", "v"),
        lambda c: c.try_set(42, "v"),
        lambda c: c.try_set("k", 42),
        lambda c: c.try_set("k", None),
        lambda c: c.try_set("k", ["v"]),
        lambda c: c.try_set("k", memoryview(b"v")),
        lambda c: c.try_set("k", "v", expires_ms="5"),
        lambda c: c.try_set("k", "v", expires_ms=1.5),
        lambda c: c.try_set("k", "v", if_exists="yes"),
        lambda c: c.try_set("k", "v", durability="persistent"),
        lambda c: c.try_set("k", "v", durability=0),
        lambda c: c.try_set("k", "v", 0),
        lambda c: c.try_set("k", "v", flags=4),
        lambda c: c.try_compare_value_and_set("k", "v", 1),
        lambda c: c.try_compare_revision_and_set("k", "v", "0"),
        lambda c: c.try_get("k", Durability.PERSISTENT),
        lambda c: c.try_get(None),
        lambda c: c.try_get_revision("k", 1.0),
        lambda c: c.try_get_as_of("k", "now"),
        lambda c: c.try_extend("k", None),
        lambda c: c.get_by_bucket(1),
        lambda c: c.scan_by_prefix("p", cursor="abc"),
        lambda c: c.scan_by_prefix("p", limit="10"),
        lambda c: c.scan_pages_by_prefix(b"p"),
    ],
)
def test_wrong_types_raise_type_error(client, call):
    with pytest.raises(TypeError):
        call(client)


def test_a_type_error_names_the_argument(client):
    with pytest.raises(TypeError, match="value must be bytes or str, not int"):
        client.try_set("k", 42)
    with pytest.raises(TypeError, match="compare_value must be bytes or str, not NoneType"):
        client.try_compare_value_and_set("k", "v", None)
    with pytest.raises(TypeError, match="durability must be a kahuna.Durability, not str"):
        client.try_get("k", durability="ephemeral")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"connect_timeout": float("inf")}, "connect_timeout"),
        ({"read_attempt_timeout": 0.0}, "read_attempt_timeout"),
    ],
)
def test_bad_client_options_are_invalid_input(cluster, kwargs, message):
    with pytest.raises(kahuna.InvalidInputError, match=message):
        kahuna.Client(cluster.endpoints, **kwargs)


def test_bad_endpoints_are_rejected():
    with pytest.raises(kahuna.InvalidInputError, match="endpoints must not be empty"):
        kahuna.Client([])
    with pytest.raises(kahuna.InvalidInputError, match=r"endpoints\[0\] must be host:port"):
        kahuna.Client(["no-port"])
    with pytest.raises(TypeError, match="endpoints must be a list"):
        kahuna.Client(7071)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="endpoints must be a list"):
        kahuna.Client([b"127.0.0.1:7071"])  # type: ignore[list-item]


def test_nothing_listening_is_unavailable():
    with pytest.raises(kahuna.UnavailableError) as info:
        kahuna.Client(["127.0.0.1:1"], timeout=0.3)
    assert info.value.code is Code.UNAVAILABLE and info.value.retriable
    assert "127.0.0.1:1" in info.value.message


def test_a_full_ephemeral_store_raises_resource_exhausted(capped_cluster):
    """A node whose Ephemeral store is at its cap refuses writes that add data; nothing is
    written, the error is not retriable, and deleting makes room."""
    with kahuna.Client(capped_cluster.endpoints, timeout=10.0) as c:
        value = b"x" * 4000
        for i in range(2000):
            try:
                c.try_set(f"full/{i}", value, durability=Durability.EPHEMERAL)
            except kahuna.ResourceExhaustedError as e:
                error, refused = e, f"full/{i}"
                break
        else:
            pytest.fail("2,000 values of 4,000 bytes fit under a 1 MiB cap")
        assert 200 <= i <= 262
        assert error.code is Code.RESOURCE_EXHAUSTED and not error.retriable
        assert "limits.max_ephemeral_mb" in error.message and "nothing was written" in error.message
        assert c.try_get(refused, durability=Durability.EPHEMERAL).revision == -1
        assert c.try_set(refused, value).set, "Persistent writes are not capped"
        assert c.try_delete("full/0", durability=Durability.EPHEMERAL).deleted
        assert c.try_set(refused, value, durability=Durability.EPHEMERAL).set, "the delete made room"
