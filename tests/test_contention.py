"""Whether other work held the cores a block's threads wanted (``gemmtune.contention``)."""

from __future__ import annotations

import pytest

from gemmtune import contention

NS = 1_000_000_000


# Timings and CPU shares judged here need the cores to themselves (tests/conftest.py).
pytestmark = pytest.mark.quiet_cores


def scripted(monkeypatch, threads, cores):
    """``run_share`` reading the given per-thread statistics and busy core seconds, in turn."""
    threads, cores = iter(threads), iter(cores)
    monkeypatch.setattr(contention, "_thread_schedstats", lambda: next(threads))
    monkeypatch.setattr(contention, "_cores_busy_seconds", lambda: next(cores))


def test_a_thread_waiting_for_work_or_for_its_own_process_is_no_busy_machine(monkeypatch):
    # numpy's helper thread slept through the block: it was never ready, it does not count.
    scripted(monkeypatch, [{"1": (0, 0), "2": (5 * NS, NS)}, {"1": (NS, 0), "2": (5 * NS, NS)}],
             [10.0, 11.0])
    with contention.run_share() as idle_helper:
        pass
    assert idle_helper.share == 1.0 and not idle_helper.busy
    # The process's threads waited 0.3 s for one another (numba's pool spinning on the core
    # OpenBLAS's thread wanted) while other processes ran 0.02 s: at most that was theirs.
    scripted(monkeypatch, [{"1": (0, 0)}, {"1": (17 * NS // 10, 3 * NS // 10)}], [10.0, 11.72])
    with contention.run_share() as own:
        pass
    assert own.others_seconds == pytest.approx(0.02)
    assert own.share == pytest.approx(1.7 / 1.72) and not own.busy


def test_a_thread_kept_from_a_core_by_other_work_makes_a_busy_machine(monkeypatch):
    # 0.6 s on a core and 0.4 s waiting, plus a thread started in the block, while a busy loop
    # ran 1 s on the same cores.
    scripted(monkeypatch, [{"1": (0, 0)}, {"1": (6 * NS // 10, 4 * NS // 10), "3": (NS // 2, NS // 2)}],
             [10.0, 12.1])
    with contention.run_share() as held:
        pass
    assert held.share == pytest.approx(1.1 / 2.0) and held.busy
    # Without /proc/stat every wait counts; without scheduler statistics there is no claim.
    scripted(monkeypatch, [{"1": (0, 0)}, {"1": (6 * NS // 10, 4 * NS // 10)}], [None, None])
    with contention.run_share() as unknown_others:
        pass
    assert unknown_others.share == pytest.approx(0.6) and unknown_others.busy
    scripted(monkeypatch, [None, None], [10.0, 11.0])
    with contention.run_share() as unknown:
        pass
    assert unknown.share is None and not unknown.busy


def test_run_share_sees_a_burner_on_the_cores_the_block_needs():
    import time

    from .burner import burning

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    with burning():
        with contention.run_share() as shared:
            spin(0.5)
    if shared.share is None:
        pytest.skip("no per-thread scheduler statistics here")
    print(f"run {shared.run_seconds:.2f} s, waited {shared.wait_seconds:.2f} s, "
          f"others {shared.others_seconds} s")
    # A busy loop on every core leaves this thread about half of one.
    assert shared.busy and shared.share < 0.8
