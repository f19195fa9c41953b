"""``AsyncClient``: the same operations as :class:`kahuna.Client`, as coroutines.

Each call runs the blocking native method on a worker thread of the client's own thread
pool (the native method releases the GIL while it waits), so the event loop never blocks and
up to ``max_workers`` calls are in flight at once. Routing, retries and deadlines are the
client core's, exactly as for :class:`kahuna.Client`.

    async with await kahuna.AsyncClient.connect(["127.0.0.1:7071"]) as client:
        await client.try_set("greeting", "hello")
        got = await client.try_get("greeting")
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ._kahuna import Client
from ._types import (
    DeleteResult,
    Durability,
    Entry,
    ExistsResult,
    ExtendResult,
    GetResult,
    LockInfo,
    LockResult,
    ScanPage,
    SetResult,
    Topology,
)

_T = TypeVar("_T")

_PERSISTENT = Durability.PERSISTENT


class AsyncClient:
    """An asyncio facade over a :class:`kahuna.Client`; create it with :meth:`connect`."""

    def __init__(self, client: Client, *, max_workers: int = 16) -> None:
        """Wraps a connected client (which the async client then owns and closes)."""
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kahuna-aio")

    @classmethod
    async def connect(
        cls,
        endpoints: Sequence[str] | str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        read_attempt_timeout: float = 2.0,
        max_workers: int = 16,
    ) -> AsyncClient:
        """Connects like :class:`kahuna.Client` without blocking the event loop."""
        connect = functools.partial(
            Client,
            endpoints,
            timeout=timeout,
            connect_timeout=connect_timeout,
            read_attempt_timeout=read_attempt_timeout,
        )
        client = await asyncio.get_running_loop().run_in_executor(None, connect)
        return cls(client, max_workers=max_workers)

    @property
    def sync(self) -> Client:
        """The blocking client underneath (shares its connections)."""
        return self._client

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._client.closed

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._client.closed:  # fails at once with InvalidInputError, without the pool
            return fn(*args, **kwargs)
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def try_set(
        self,
        key: str,
        value: bytes | str,
        *,
        expires_ms: int = 0,
        if_exists: bool = False,
        if_not_exists: bool = False,
        no_revision: bool = False,
        durability: Durability = _PERSISTENT,
    ) -> SetResult:
        """See :meth:`kahuna.Client.try_set`."""
        return await self._run(
            self._client.try_set,
            key,
            value,
            expires_ms=expires_ms,
            if_exists=if_exists,
            if_not_exists=if_not_exists,
            no_revision=no_revision,
            durability=durability,
        )

    async def try_compare_value_and_set(
        self,
        key: str,
        value: bytes | str,
        compare_value: bytes | str,
        *,
        expires_ms: int = 0,
        durability: Durability = _PERSISTENT,
    ) -> SetResult:
        """See :meth:`kahuna.Client.try_compare_value_and_set`."""
        return await self._run(
            self._client.try_compare_value_and_set,
            key,
            value,
            compare_value,
            expires_ms=expires_ms,
            durability=durability,
        )

    async def try_compare_revision_and_set(
        self,
        key: str,
        value: bytes | str,
        compare_revision: int,
        *,
        expires_ms: int = 0,
        durability: Durability = _PERSISTENT,
    ) -> SetResult:
        """See :meth:`kahuna.Client.try_compare_revision_and_set`."""
        return await self._run(
            self._client.try_compare_revision_and_set,
            key,
            value,
            compare_revision,
            expires_ms=expires_ms,
            durability=durability,
        )

    async def try_get(self, key: str, *, durability: Durability = _PERSISTENT) -> GetResult:
        """See :meth:`kahuna.Client.try_get`."""
        return await self._run(self._client.try_get, key, durability=durability)

    async def try_get_revision(
        self, key: str, revision: int, *, durability: Durability = _PERSISTENT
    ) -> GetResult:
        """See :meth:`kahuna.Client.try_get_revision`."""
        return await self._run(self._client.try_get_revision, key, revision, durability=durability)

    async def try_get_as_of(
        self, key: str, timestamp: int, *, durability: Durability = _PERSISTENT
    ) -> GetResult:
        """See :meth:`kahuna.Client.try_get_as_of`."""
        return await self._run(self._client.try_get_as_of, key, timestamp, durability=durability)

    async def try_exists(self, key: str, *, durability: Durability = _PERSISTENT) -> ExistsResult:
        """See :meth:`kahuna.Client.try_exists`."""
        return await self._run(self._client.try_exists, key, durability=durability)

    async def try_delete(self, key: str, *, durability: Durability = _PERSISTENT) -> DeleteResult:
        """See :meth:`kahuna.Client.try_delete`."""
        return await self._run(self._client.try_delete, key, durability=durability)

    async def try_extend(
        self, key: str, expires_ms: int, *, durability: Durability = _PERSISTENT
    ) -> ExtendResult:
        """See :meth:`kahuna.Client.try_extend`."""
        return await self._run(self._client.try_extend, key, expires_ms, durability=durability)

    async def try_lock(
        self, resource: str, owner: bytes | str, expires_ms: int, *, durability: Durability = _PERSISTENT
    ) -> LockResult:
        """See :meth:`kahuna.Client.try_lock`."""
        return await self._run(self._client.try_lock, resource, owner, expires_ms, durability=durability)

    async def try_extend_lock(
        self, resource: str, owner: bytes | str, expires_ms: int, *, durability: Durability = _PERSISTENT
    ) -> int:
        """See :meth:`kahuna.Client.try_extend_lock`."""
        return await self._run(
            self._client.try_extend_lock, resource, owner, expires_ms, durability=durability
        )

    async def unlock(
        self, resource: str, owner: bytes | str, *, durability: Durability = _PERSISTENT
    ) -> None:
        """See :meth:`kahuna.Client.unlock`."""
        await self._run(self._client.unlock, resource, owner, durability=durability)

    async def get_lock(self, resource: str, *, durability: Durability = _PERSISTENT) -> LockInfo:
        """See :meth:`kahuna.Client.get_lock`."""
        return await self._run(self._client.get_lock, resource, durability=durability)

    async def get_by_bucket(
        self, bucket: str, *, durability: Durability = _PERSISTENT
    ) -> list[Entry]:
        """See :meth:`kahuna.Client.get_by_bucket`."""
        return await self._run(self._client.get_by_bucket, bucket, durability=durability)

    async def scan_by_prefix(
        self,
        prefix: str,
        *,
        limit: int = 100,
        cursor: bytes | None = None,
        durability: Durability = _PERSISTENT,
    ) -> ScanPage:
        """See :meth:`kahuna.Client.scan_by_prefix`."""
        return await self._run(
            self._client.scan_by_prefix, prefix, limit=limit, cursor=cursor, durability=durability
        )

    async def scan_pages_by_prefix(
        self, prefix: str, *, limit: int = 100, durability: Durability = _PERSISTENT
    ) -> AsyncIterator[ScanPage]:
        """Every page of a prefix scan, all read at one snapshot (``async for``)."""
        pages = self._client.scan_pages_by_prefix(prefix, limit=limit, durability=durability)
        while True:
            page = await self._run(next, pages, None)
            if page is None:
                return
            yield page

    async def topology(self) -> Topology:
        """See :meth:`kahuna.Client.topology`."""
        return await self._run(self._client.topology)

    async def close(self) -> None:
        """Closes the client; later calls raise :class:`kahuna.InvalidInputError`."""
        self._client.close()
        self._pool.shutdown(wait=False)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Async{self._client!r}"
