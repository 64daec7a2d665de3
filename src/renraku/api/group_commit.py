"""Group commit: concurrent requests' store work runs together, one transaction per group.

Requests submit an item and wait; while one group runs (in this batcher's own worker thread), the
items that arrive meanwhile gather into the next group. Each request is answered only after the
transaction that handled its item has ended (a write: committed). Under light load a group is a
single item, so nothing waits for company; under heavy load one transaction serves many requests.
The same machinery groups reads (one query for every request waiting) and writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from renraku.store import is_transient

log = logging.getLogger("renraku.api.group_commit")
Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Runs submitted items in groups of at most ``max_group``, one group at a time.

    ``run_group(items)`` handles a group in one transaction and returns one outcome per item (a
    result, or the exception that refused that item alone). If it raises, nothing of the group
    was written, and ``run_one`` runs each item in its own transaction, so one item that breaks
    the shared transaction (a foreign key, say) fails only its own request. With
    ``retry_transient`` (for items that may safely run twice: reads, and writes that set a state
    rather than add to it), an item whose own transaction fails on a cut connection is tried once
    more, on a fresh connection (the pool drops connections it saw fail).

    Groups run in one dedicated thread (one group at a time anyway), handed over through the
    executor's lock-free queue rather than the shared thread pool's.
    """

    def __init__(
        self,
        run_group: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        run_one: Callable[[Item], Result],
        *,
        max_group: int = 256,
        name: str = "group",
        retry_transient: bool = False,
    ) -> None:
        self._run_group = run_group
        self._run_one = run_one
        self._max_group = max_group
        self._retry = retry_transient
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"renraku-{name}")
        self.groups = 0  # groups run, for tests

    async def submit(self, item: Item) -> Result:
        """Wait until ``item`` is handled (its group's transaction ended); its result, or its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                group = self._pending[: self._max_group]
                del self._pending[: self._max_group]
                outcomes = await loop.run_in_executor(
                    self._executor, self._outcomes, [item for item, _ in group]
                )
                self.groups += 1
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():  # the request went away while it waited
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                group = []
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            failed = exc if isinstance(exc, Exception) else RuntimeError("the server is stopping")
            for _, future in [*group, *self._pending]:
                if not future.done():
                    future.set_exception(failed)
            self._pending.clear()
            raise
        finally:
            self._running = False

    def _outcomes(self, items: list[Item]) -> Sequence[Result | Exception]:
        if len(items) > 1:
            try:
                return self._run_group(items)
            except Exception as exc:
                # Nothing was written: each item alone, so that each gets its own answer.
                log.info(
                    "a group of %d items failed (%s); handling them one by one", len(items), exc
                )
        return [self._one(item) for item in items]

    def _one(self, item: Item) -> Result | Exception:
        try:
            return self._run_one(item)
        except Exception as exc:
            if not (self._retry and is_transient(exc)):
                return exc
        try:
            return self._run_one(item)
        except Exception as exc:
            return exc
