"""The timing protocol: calibrated samples, median and IQR, early stop, interleaving."""

from __future__ import annotations

import pytest

from gemmtune.measure import (EarlyStop, Timing, calibrate, gemm_flops, gflops, interleaved, iqr,
                              is_unstable, measure, pinned_threads)


# Timings and CPU shares judged here need the cores to themselves (tests/conftest.py).
pytestmark = pytest.mark.quiet_cores


def test_summary_statistics():
    assert iqr([1.0]) == 0.0
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0)
    t = Timing([1.0, 1.0, 1.1, 1.0, 0.9], repeats=3)
    assert t.median == 1.0 and not t.unstable
    assert is_unstable([1.0, 2.0, 3.0]) and not is_unstable([1.0])
    assert gemm_flops(2, 3, 4) == 48 and gflops(2e9, 1.0) == 2.0 and gflops(1.0, 0.0) == 0.0
    assert t.summary(2e9)["gflops"] == pytest.approx(2.0)


def test_calibrated_samples_are_long_enough():
    calls = []
    timing = measure(lambda: calls.append(1), samples=3, min_sample_seconds=0.002)
    assert len(timing.samples) == 3 and timing.repeats > 1
    assert timing.repeats * timing.median >= 0.001  # each sample lasted about the target
    assert len(calls) >= 1 + 1 + 3 * timing.repeats  # warm-up, calibration, samples
    assert calibrate(lambda: None, 1e-9, first_call_seconds=1.0) == 1


def test_early_stop_gives_up_after_the_first_samples():
    seen = []

    def hopeless(samples):
        seen.append(len(samples))
        return "too slow"

    with pytest.raises(EarlyStop) as stop:
        measure(lambda: None, samples=5, min_sample_seconds=0.0005, early_stop=hopeless)
    assert seen == [2] and len(stop.value.timing.samples) == 2 and stop.value.reason == "too slow"
    # A hook that lets it go on changes nothing.
    assert len(measure(lambda: None, samples=4, min_sample_seconds=0.0005,
                       early_stop=lambda s: None).samples) == 4


def test_interleaved_alternates_the_callables():
    order = []
    timings = interleaved([lambda: order.append("a"), lambda: order.append("b")], rounds=3,
                          min_sample_seconds=0.0, warmup=0)
    assert len(timings) == 2 and all(len(t.samples) == 3 for t in timings)
    # With one call per sample (no warm-up, one calibration call each): a b then (a b) x 3.
    assert order == ["a", "b"] + ["a", "b"] * 3


def test_interleaved_skips_warm_up_and_calibration_of_a_callable_with_known_repeats():
    order = []
    timings = interleaved([lambda: order.append("a"), lambda: order.append("b")], rounds=2,
                          min_sample_seconds=0.0, warmup=1, repeats=[3, None])
    assert [t.repeats for t in timings] == [3, 1]
    # b: its warm-up call (long enough to calibrate on); then rounds of a x 3, b.
    assert order == ["b"] + (["a"] * 3 + ["b"]) * 2


def test_interleaved_early_stop_sees_every_callable_and_keeps_the_rounds():
    seen = []

    def hopeless(taken):
        seen.append([len(t) for t in taken])
        return "too slow"

    with pytest.raises(EarlyStop) as stop:
        interleaved([lambda: None, lambda: None], rounds=5, min_sample_seconds=0.0005,
                    early_stop=hopeless)
    assert seen == [[2, 2]] and stop.value.reason == "too slow"
    assert [len(t.samples) for t in stop.value.timings] == [2, 2]
    assert stop.value.timing is stop.value.timings[-1]


def test_pinned_threads_restores_numba():
    import numba

    before = numba.get_num_threads()
    with pinned_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_after_call_times_only_the_call_after_the_other_one():
    import time

    from gemmtune.measure import AfterCall

    order = []
    pair = AfterCall(lambda: (order.append("numpy"), time.sleep(0.004)), lambda: order.append("kernel"))
    timing = measure(pair, samples=3, min_sample_seconds=0.0005, warmup=1)
    # Every timed call followed the other library's call, whose 4 ms are not counted.
    assert order[:4] == ["numpy", "kernel", "numpy", "kernel"]
    assert order.count("numpy") == order.count("kernel")
    assert timing.median < 0.002
    rounds = interleaved([lambda: None, pair], rounds=2, min_sample_seconds=0.0005)
    assert rounds[1].median < 0.002


def test_cpu_share_sees_a_sleeping_block_and_a_burner_on_every_core():
    import time

    from gemmtune.measure import cpu_share

    from .burner import burning

    with cpu_share(1) as idle:
        time.sleep(0.2)
    assert idle.busy and idle.share < 0.2   # a thread that does not run gets no share

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    with burning():
        with cpu_share(1) as shared:
            spin(0.6)
    # A busy loop on every core leaves this thread about half of one.
    assert shared.busy and shared.share < 0.8


@pytest.mark.parametrize("scale,want", [(None, 0.05), ("0.1", 0.005), ("1", 0.05), ("0", 0.05),
                                        ("2", 0.05), ("fast", 0.05)])
def test_the_test_timing_scale_shortens_search_samples_only_when_sane(monkeypatch, scale, want):
    from gemmtune.measure import TEST_TIMING_SCALE, search_sample_seconds
    from gemmtune.problem import Problem
    from gemmtune.search.evaluators import WorkerEvaluator

    if scale is None:
        monkeypatch.delenv(TEST_TIMING_SCALE, raising=False)
    else:
        monkeypatch.setenv(TEST_TIMING_SCALE, scale)
    assert search_sample_seconds(0.05) == pytest.approx(want)
    ev = WorkerEvaluator(Problem(8, 8, 8, "float32", 1), "/nonexistent")
    assert ev.min_sample_seconds == pytest.approx(want)
    assert ev.remeasure_request([], 7).min_sample_seconds == pytest.approx(2 * want)
    # A length the caller gives is its own: never scaled.
    assert WorkerEvaluator(Problem(8, 8, 8, "float32", 1), "/x", min_sample_seconds=0.2).min_sample_seconds == 0.2
