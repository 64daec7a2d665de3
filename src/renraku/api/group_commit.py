"""Group commit: concurrent requests' writes run together in one transaction.

Requests submit an item and wait; while one group's transaction runs (in a worker thread), the
items that arrive meanwhile gather into the next group. Each request is answered only after the
transaction that wrote its item has committed. Under light load a group is a single item, so
nothing waits for company; under heavy load one commit serves many requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("renraku.api.group_commit")
Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Runs submitted items in groups of at most ``max_group``, one group at a time.

    ``run_group(items)`` writes a group in one transaction and returns one outcome per item (a
    result, or the exception that refused that item alone). If it raises, nothing of the group
    was written, and ``run_one`` runs each item in its own transaction, so one item that breaks
    the shared transaction (a foreign key, say) fails only its own request.
    """

    def __init__(
        self,
        run_group: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        run_one: Callable[[Item], Result],
        *,
        max_group: int = 256,
    ) -> None:
        self._run_group = run_group
        self._run_one = run_one
        self._max_group = max_group
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self.groups = 0  # groups run, for tests

    async def submit(self, item: Item) -> Result:
        """Wait until ``item`` is written (its group committed); its result, or its error."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._pending:
                group = self._pending[: self._max_group]
                del self._pending[: self._max_group]
                outcomes = await run_in_threadpool(self._outcomes, [item for item, _ in group])
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
                    "a group of %d writes failed (%s); writing them one by one", len(items), exc
                )
        return [self._one(item) for item in items]

    def _one(self, item: Item) -> Result | Exception:
        try:
            return self._run_one(item)
        except Exception as exc:
            return exc
