"""Fixtures: real Kahuna clusters driven through the `kahuna-testcluster` tool.

`kahuna-testcluster` (built by `cargo build --release --workspace`) starts real
`kahuna-server` processes in a temp dir, prints one JSON line with their endpoints, then obeys
one command per stdin line (`kill I`, `restart I`, `pause I`, `resume I`, `wait-ready`,
`leader P`, `endpoints`, `quit`), answering each with one JSON line. Its servers die with it,
even if pytest is killed (its stdin closes).

The binary is `$KAHUNA_TESTCLUSTER`, else `release/kahuna-testcluster` under
`$CARGO_TARGET_DIR` (relative to the repository root when relative), else under `target/`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import kahuna

REPO = Path(__file__).resolve().parents[3]

#: How long one command of the tool may take (starting a cluster, `wait-ready`, ...).
COMMAND_TIMEOUT = 90.0


def testcluster_binary() -> Path:
    """Where the `kahuna-testcluster` tool is."""
    if os.environ.get("KAHUNA_TESTCLUSTER"):
        return Path(os.environ["KAHUNA_TESTCLUSTER"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / "kahuna-testcluster"


class TestCluster:
    """A running cluster: `endpoints`, and one method per command of the tool."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, nodes: int = 3, partitions: int = 8, server_flags: tuple[str, ...] = ()) -> None:
        binary = testcluster_binary()
        if not binary.is_file():
            pytest.fail(
                f"{binary} does not exist: build it with `cargo build --release --workspace` "
                "(or point KAHUNA_TESTCLUSTER at it)",
                pytrace=False,
            )
        self._proc = subprocess.Popen(
            [str(binary), "--nodes", str(nodes), "--partitions", str(partitions), "--", *server_flags],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._reply("start")
        self.endpoints: list[str] = first["endpoints"]
        self.partitions: int = first["partitions"]
        self.nodes: int = first["nodes"]

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def _reply(self, what: str) -> dict:
        try:
            line = self._lines.get(timeout=COMMAND_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"kahuna-testcluster did not answer `{what}` in {COMMAND_TIMEOUT} s")
        if not line:
            raise AssertionError(f"kahuna-testcluster exited (code {self._proc.poll()}) during `{what}`")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise AssertionError(f"kahuna-testcluster `{what}` failed: {reply.get('error')}")
        return reply

    def command(self, line: str) -> dict:
        """Sends one command and returns its JSON answer; fails unless it is ok."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        return self._reply(line)

    def kill(self, i: int) -> None:
        self.command(f"kill {i}")

    def restart(self, i: int) -> None:
        self.command(f"restart {i}")

    def pause(self, i: int) -> None:
        self.command(f"pause {i}")

    def resume(self, i: int) -> None:
        self.command(f"resume {i}")

    def wait_ready(self) -> None:
        self.command("wait-ready")

    def leader(self, partition: int) -> int:
        """The index of the node leading `partition`."""
        return self.command(f"leader {partition}")["node"]

    def live_endpoints(self) -> list[str]:
        return self.command("endpoints")["endpoints"]

    def partition_of(self, key: str) -> int:
        return kahuna._kahuna._partition_for_key(key, self.partitions)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[TestCluster]:
    """A 3-node cluster shared by the tests that do not harm it."""
    c = TestCluster()
    yield c
    c.close()


@pytest.fixture
def own_cluster() -> Iterator[TestCluster]:
    """A 3-node cluster of the test's own, for tests that kill or pause nodes."""
    c = TestCluster()
    yield c
    c.close()


@pytest.fixture
def capped_cluster() -> Iterator[TestCluster]:
    """One node whose Ephemeral store is capped at 1 MiB."""
    c = TestCluster(nodes=1, server_flags=("--max-ephemeral-mb", "1"))
    yield c
    c.close()


@pytest.fixture(scope="session")
def client(cluster: TestCluster) -> Iterator[kahuna.Client]:
    """One client on the shared cluster, shared by the tests (as an application would)."""
    with kahuna.Client(cluster.endpoints, timeout=10.0) as c:
        yield c


@pytest.fixture
def ns() -> str:
    """A bucket of the test's own (no trailing '/'), so tests never see each other's keys."""
    return f"t-{uuid.uuid4().hex[:12]}"
