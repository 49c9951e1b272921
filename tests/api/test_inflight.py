"""The byte budget large pages wait for: waits instead of failing, in arrival order,
never makes a small reservation wait, and leaves nothing held by a waiter that gave up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from kubetrail.api.inflight import ByteBudget, Reservation


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test, backend="asyncio")


def test_reservations_that_fit_are_granted_at_once() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        a, b = await budget.reserve(60), await budget.reserve(40)
        assert budget.in_use == 100
        a.release()
        b.release()
        assert budget.in_use == 0

    run(test)


def test_a_reservation_that_does_not_fit_waits_until_bytes_are_released() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        first = await budget.reserve(80)
        got: list[Reservation] = []

        async def second() -> None:
            got.append(await budget.reserve(50))

        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await wait_all_tasks_blocked()
            assert got == [] and budget.waiting == 1 and budget.in_use == 80
            first.release()
        assert budget.in_use == 50 and budget.waiting == 0
        got[0].release()
        assert budget.in_use == 0

    run(test)


def test_waiters_are_let_in_in_arrival_order() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        held = await budget.reserve(100)
        order: list[str] = []

        async def waiter(name: str, nbytes: int) -> None:
            reservation = await budget.reserve(nbytes)
            order.append(name)
            reservation.release()

        async with anyio.create_task_group() as tg:
            for name, nbytes in (("big", 90), ("small", 20), ("medium", 50)):
                tg.start_soon(waiter, name, nbytes)
                await wait_all_tasks_blocked()
            assert budget.waiting == 3
            held.release()
        assert order == ["big", "small", "medium"]
        assert budget.in_use == 0

    run(test)


def test_a_later_reservation_does_not_overtake_a_waiting_one() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        held = await budget.reserve(60)
        got: list[int] = []

        async def waiter(nbytes: int) -> None:
            (await budget.reserve(nbytes)).release()
            got.append(nbytes)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, 70)
            await wait_all_tasks_blocked()
            tg.start_soon(waiter, 10)  # would fit, but 70 came first
            await wait_all_tasks_blocked()
            assert got == [] and budget.waiting == 2
            held.release()
        assert got == [70, 10]

    run(test)


def test_small_reservations_never_wait_but_are_counted() -> None:
    async def test() -> None:
        budget = ByteBudget(100, never_wait=10)
        held = await budget.reserve(100)
        got: list[Reservation] = []

        async def large() -> None:
            got.append(await budget.reserve(95))

        async with anyio.create_task_group() as tg:
            tg.start_soon(large)
            await wait_all_tasks_blocked()
            small = await budget.reserve(10)  # the budget is spent and one waits: granted
            assert budget.in_use == 110 and budget.waiting == 1
            held.release()
            await wait_all_tasks_blocked()
            assert got == []  # 10 + 95 does not fit: the small one is counted
            small.release()
        assert budget.in_use == 95
        got[0].release()

    run(test)


def test_a_reservation_larger_than_the_budget_runs_alone() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        held = await budget.reserve(10)
        got: list[Reservation] = []

        async def huge() -> None:
            got.append(await budget.reserve(500))

        async with anyio.create_task_group() as tg:
            tg.start_soon(huge)
            await wait_all_tasks_blocked()
            assert got == []
            held.release()
        assert budget.in_use == 500
        got[0].release()
        assert budget.in_use == 0

    run(test)


def test_resizing_down_lets_waiters_in_and_growing_is_an_overdraft() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        page = await budget.reserve(100)  # the estimate before the page is read
        got: list[Reservation] = []

        async def other() -> None:
            got.append(await budget.reserve(60))

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await wait_all_tasks_blocked()
            page.resize(30)  # read: it holds less than expected
        assert budget.in_use == 90
        got[0].resize(200)  # more than expected: granted, others wait longer
        assert budget.in_use == 230
        page.release()
        got[0].release()
        assert budget.in_use == 0

    run(test)


def test_release_twice_gives_back_once() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        a, b = await budget.reserve(50), await budget.reserve(50)
        a.release()
        a.release()
        a.resize(80)  # released: no effect
        assert budget.in_use == 50
        b.release()

    run(test)


def test_a_waiter_that_gives_up_leaves_nothing_held() -> None:
    async def test() -> None:
        budget = ByteBudget(100)
        held = await budget.reserve(80)
        got: list[Reservation] = []

        async def behind() -> None:
            got.append(await budget.reserve(20))

        scope = anyio.CancelScope()

        async def gives_up() -> None:
            with scope:
                await budget.reserve(90)

        async with anyio.create_task_group() as tg:
            tg.start_soon(gives_up)
            await wait_all_tasks_blocked()
            tg.start_soon(behind)  # fits, but waits behind the 90
            await wait_all_tasks_blocked()
            assert budget.waiting == 2 and got == []
            scope.cancel()
        # the 90 gave up: the 20 behind it was let in at once
        assert budget.waiting == 0 and budget.in_use == 100
        held.release()
        got[0].release()
        assert budget.in_use == 0

    run(test)


def test_a_budget_needs_a_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ByteBudget(0)
