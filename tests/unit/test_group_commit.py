"""Group commit: items that arrive while a group runs form the next group; each request gets its
own outcome, also when the shared transaction fails and the items are run one by one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from renraku.api.group_commit import GroupCommit


class Recorder:
    """Stands in for the store: records each group, blocks the first until released."""

    def __init__(self, *, fail_groups: bool = False) -> None:
        self.groups: list[list[int]] = []
        self.ones: list[int] = []
        self.release = threading.Event()
        self.fail_groups = fail_groups

    def run_group(self, items: Sequence[int]) -> list[int | Exception]:
        self.release.wait(timeout=30)
        self.groups.append(list(items))
        if self.fail_groups:
            raise RuntimeError("the shared transaction failed")
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    def run_one(self, item: int) -> int:
        self.release.wait(timeout=30)
        self.ones.append(item)
        if item == 3:
            raise ValueError("three fails alone")
        return item * 10


async def _outcomes(commit: GroupCommit[int, int], items: list[int]) -> list[object]:
    results = await asyncio.gather(*(commit.submit(i) for i in items), return_exceptions=True)
    return [str(r) if isinstance(r, Exception) else r for r in results]


def test_items_arriving_while_a_group_runs_are_written_together_in_the_next_group() -> None:
    recorder = Recorder()

    async def scenario() -> list[object]:
        commit = GroupCommit(recorder.run_group, recorder.run_one)
        first = asyncio.ensure_future(commit.submit(2))
        await asyncio.sleep(0.05)  # the first item's write is under way (blocked)
        rest = asyncio.ensure_future(_outcomes(commit, [4, 5, 6]))
        await asyncio.sleep(0.05)
        recorder.release.set()
        return [await first, *(await rest)]

    assert asyncio.run(scenario()) == [20, 40, "odd 5", 60]
    # The lone first item ran by itself; the three that queued behind it shared one group.
    assert recorder.ones == [2]
    assert recorder.groups == [[4, 5, 6]]


def test_a_failed_group_is_run_item_by_item_so_each_request_gets_its_own_answer() -> None:
    recorder = Recorder(fail_groups=True)
    recorder.release.set()

    async def scenario() -> list[object]:
        commit = GroupCommit(recorder.run_group, recorder.run_one)
        blocker = asyncio.ensure_future(commit.submit(1))
        rest = asyncio.ensure_future(_outcomes(commit, [2, 3, 4]))
        return [await blocker, *(await rest)]

    assert asyncio.run(scenario()) == [10, 20, "three fails alone", 40]
    assert recorder.groups == [[2, 3, 4]]
    assert recorder.ones == [1, 2, 3, 4]


def test_groups_never_exceed_their_bound() -> None:
    recorder = Recorder()
    recorder.release.set()

    async def scenario() -> list[object]:
        commit = GroupCommit(recorder.run_group, recorder.run_one, max_group=2)
        return await _outcomes(commit, [0, 2, 4, 6, 8])

    assert asyncio.run(scenario()) == [0, 20, 40, 60, 80]
    # All five queued before the writer started: two full groups, then the last item alone.
    assert recorder.groups == [[0, 2], [4, 6]]
    assert recorder.ones == [8]


def test_waiting_requests_are_failed_not_left_hanging_when_the_writer_is_cancelled() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        commit = GroupCommit(recorder.run_group, recorder.run_one)
        waiting = asyncio.ensure_future(commit.submit(2))
        await asyncio.sleep(0.05)
        assert commit._task is not None
        commit._task.cancel()
        recorder.release.set()
        with pytest.raises(RuntimeError, match="stopping"):
            await asyncio.wait_for(waiting, timeout=30)

    asyncio.run(scenario())
