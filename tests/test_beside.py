"""Work beside a request (searchsvc/engines/beside.py): a search's weighed list of the
entries with copies, then its other-tab and folded counts, run on a free helper thread,
else on the request's own thread, with the same answers either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from support.engine_stacks import ask, make_stacks
from test_topk_copies import tree

from searchsvc.engines import repo_topk
from searchsvc.engines.beside import Beside, helper_threads
from searchsvc.engines.topk_counts import scope_counts


def test_work_runs_on_a_free_helper_and_gives_its_result() -> None:
    beside = Beside(1)
    ran_on: list[str] = []

    def work() -> int:
        ran_on.append(threading.current_thread().name)
        return 42

    assert beside.start(work)() == 42
    assert (beside.helped, beside.inline) == (1, 0)
    assert ran_on[0].startswith("dialogsearch-beside")


def test_a_busy_helper_leaves_the_work_to_the_caller() -> None:
    beside = Beside(1)
    release, running = threading.Event(), threading.Event()

    def blocking() -> str:
        running.set()
        release.wait(30)
        return "helper"

    first = beside.start(blocking)
    assert running.wait(30)
    later = beside.start(lambda: threading.current_thread().name)
    # Nothing ran yet: the caller runs it when it asks for the answer, on its own thread.
    assert beside.inline == 1
    assert later() == threading.current_thread().name
    release.set()
    assert first() == "helper"
    assert beside.start(lambda: 7)() == 7  # the helper is free again
    assert (beside.helped, beside.inline) == (2, 1)


def test_an_error_reaches_the_caller_and_frees_the_helper() -> None:
    beside = Beside(1)

    def failing() -> None:
        raise ValueError("the index failed")

    with pytest.raises(ValueError, match="the index failed"):
        beside.start(failing)()
    assert beside.start(lambda: "again")() == "again"
    assert beside.helped == 2


def test_works_started_together_run_in_order_on_one_helper() -> None:
    beside = Beside(1)
    order: list[str] = []

    def first() -> str:
        order.append("first")
        return threading.current_thread().name

    def failing() -> None:
        order.append("second")
        raise ValueError("the count failed")

    def third() -> int:
        order.append("third")
        return 3

    one, two, three = beside.start_each(first, failing, third)
    assert one().startswith("dialogsearch-beside")
    with pytest.raises(ValueError, match="the count failed"):
        two()
    assert three() == 3  # an error stops only its own work
    assert order == ["first", "second", "third"]
    assert (beside.helped, beside.inline) == (1, 0)
    assert beside.start_each() == []
    assert beside.start(lambda: "free again")() == "free again"


def test_without_helpers_everything_runs_inline() -> None:
    beside = Beside(0)
    assert beside.start(lambda: threading.current_thread().name)() == (
        threading.current_thread().name
    )
    assert (beside.helped, beside.inline) == (0, 1)
    assert helper_threads() >= 0


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    made = make_stacks(
        tree(tmp_path_factory.mktemp("beside") / "dialogs"), tmp_path_factory.mktemp("idx")
    )
    yield made
    for stack in made.values():
        stack.close()


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("q", ["lanterns", "storm", "dark", "-harbour"])
def test_the_counts_agree_with_every_engine_on_a_helper_or_inline(
    stacks, monkeypatch: pytest.MonkeyPatch, workers: int, q: str
) -> None:
    beside = Beside(workers)
    monkeypatch.setattr(repo_topk, "BESIDE", beside)
    counted: list[str] = []

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        counted.append(threading.current_thread().name)
        return scope_counts(*args, **kwargs)

    monkeypatch.setattr(repo_topk, "scope_counts", counting)
    stacks["topk"].topk._counts = repo_topk.AnswerCache(repo_topk.COUNTS_CACHE_SIZE)
    page = ask(stacks, q=q, per_page="50")
    assert page.scopes is not None and page.folded is not None
    # The work beside a search (its weighing, its counts) starts once, on a helper or
    # inline, and counts on the helper when there is one.
    assert (beside.helped, beside.inline) == ((1, 0) if workers else (0, 1))
    assert len(counted) == 1 and counted[0].startswith("dialogsearch-beside") == bool(workers)
    again = ask(stacks, q=q, per_page="50")
    assert len(counted) == 1  # the counts are remembered for the index as it is
    assert (again.scopes, again.folded) == (page.scopes, page.folded)
