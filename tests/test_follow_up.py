"""FollowUp (searchsvc.engines.follow_up): background work after requests, bursts folded."""

from __future__ import annotations

import threading

from searchsvc.engines.follow_up import FollowUp

WAIT = 30.0


class Work:
    """A run that starts, then waits to be let go; each run is recorded."""

    def __init__(self, fail_first: bool = False) -> None:
        self.threads: list[str] = []
        self.started = [threading.Event() for _ in range(4)]
        self.release = threading.Event()
        self.fail_first = fail_first

    def __call__(self) -> None:
        number = len(self.threads)
        self.threads.append(threading.current_thread().name)
        self.started[number].set()
        assert self.release.wait(WAIT)
        if self.fail_first and number == 0:
            raise OSError("disk gone")


def test_requests_during_a_run_are_folded_into_one_more_run() -> None:
    work = Work()
    follow_up = FollowUp(work, "follow-up-test")
    follow_up.request()
    assert work.started[0].wait(WAIT)  # the first run is under way, in its own thread
    for _ in range(5):
        follow_up.request()  # never waits for the run
    work.release.set()
    assert work.started[1].wait(WAIT)  # one more run for the five requests
    follow_up.close(WAIT)
    assert follow_up.runs == 2 and not work.started[2].is_set()
    assert work.threads == ["follow-up-test", "follow-up-test"]


def test_a_failing_run_is_logged_and_the_next_request_still_runs(caplog) -> None:
    work = Work(fail_first=True)
    follow_up = FollowUp(work, "follow-up-failing")
    follow_up.request()
    assert work.started[0].wait(WAIT)
    follow_up.request()
    work.release.set()
    assert work.started[1].wait(WAIT)
    follow_up.close(WAIT)
    assert "follow-up-failing failed" in caplog.text and "disk gone" in caplog.text
    assert follow_up.runs == 2


def test_close_drops_a_request_not_yet_run_and_later_requests_run_again() -> None:
    work = Work()
    follow_up = FollowUp(work, "follow-up-close")
    follow_up.request()
    assert work.started[0].wait(WAIT)
    follow_up.request()  # pending behind the running one
    follow_up.close(0)  # drops it (and does not wait)
    work.release.set()
    follow_up.close(WAIT)
    assert follow_up.runs == 1
    follow_up.request()  # a later request starts a thread again
    assert work.started[1].wait(WAIT)
    follow_up.close(WAIT)
    assert follow_up.runs == 2
