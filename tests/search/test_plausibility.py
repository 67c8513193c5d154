"""Figures that are measurement faults: re-measured, kept out of the best, never pruned against;
a machine that stays busy is called busy, and no ratio to a numpy it slowed is a fact.

The faults are reproduced with a scripted evaluator (the figures a worker returned on a shared
machine, from issue 15); nothing here compiles.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from gemmtune.problem import Problem
from gemmtune.search import plausibility as pl
from gemmtune.search.messages import Outcome, RemeasureOutcome
from gemmtune.search.replay import load_table
from gemmtune.search.report import build_document
from gemmtune.search.runner import MIN_TIME_BUDGET, TIME_STOP_FACTOR, Search
from gemmtune.search.space import SearchSpace

TABLE = Path(__file__).parent.parent / "data" / "space_1024x1024x1024_f32_t1.json"
REFERENCE = 76.6     # the study's numpy figure
PEAK = 508.0         # the machine's 2-thread FMA peak


def ok(gflops, numpy=REFERENCE, numpy_iqr=2.0, own=None, measure_seconds=1.0):
    return Outcome(status="ok", gflops=gflops, numpy_gflops=numpy, numpy_iqr=numpy_iqr,
                   own_gflops=own if own is not None else gflops * numpy / REFERENCE,
                   measure_seconds=measure_seconds, samples=5, gflops_iqr=1.0)


class Scripted:
    """An evaluator answering each candidate's measurements from a script, in order."""

    def __init__(self, problem, script, finals=None):
        self.problem = problem
        self.reference_gflops = REFERENCE
        self.time_budget = None
        self.script = {i: list(outs) for i, outs in enumerate(script)}
        self.finals = list(finals or [])
        self.calls: list[tuple[int, float | None, float | None]] = []   # (candidate, best, budget)
        self.finish_numpy = REFERENCE
        self.finish_share: float | None = None   # contention.run_share of the finish
        self.order: dict[str, int] = {}

    def evaluate(self, params, trial, best_gflops):
        index = self.order.setdefault(params.key(), len(self.order))
        self.calls.append((index, best_gflops, self.time_budget))
        outs = self.script[index]
        return outs.pop(0) if len(outs) > 1 else outs[0]

    def remeasure(self, candidates, rounds):
        cands = self.finals.pop(0) if len(self.finals) > 1 else self.finals[0]
        return RemeasureOutcome(numpy={"gflops": self.finish_numpy}, candidates=cands[:len(candidates)],
                                run_share=self.finish_share)

    def numpy_gflops(self):
        return REFERENCE

    def close(self, kill=False):
        pass


@pytest.fixture(scope="module")
def space():
    return SearchSpace.from_dict(load_table(TABLE)["space"])


def search(space, script, finals=None, **kw):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))
    points = list(space.valid_points())[:len(script)]
    for p in points:
        study.enqueue_trial(p[0])
    ev = Scripted(Problem(1536, 1536, 1536, "float64", 2), script, finals)
    return Search(study, space, ev, ceiling=PEAK, **kw), ev, study


def test_reference_moved_and_above_ceiling_rules():
    assert pl.reference_moved(11.0, 1.0, REFERENCE)           # numpy collapsed beside it
    assert pl.reference_moved(75.0, 3.0, REFERENCE) is None   # within its tolerance
    # A numpy whose own spread is wide is allowed to sit further from the reference ...
    assert pl.reference_moved(50.0, 15.0, REFERENCE) is None
    # ... unless that spread is larger than the reference itself.
    assert pl.reference_moved(70.0, 90.0, REFERENCE)
    assert pl.above_ceiling(540.0, PEAK) and pl.above_ceiling(520.0, PEAK) is None
    assert pl.percent_of_peak(650.0, PEAK) is None            # never "128% of peak"
    assert pl.percent_of_peak(254.0, PEAK) == pytest.approx(50.0)


def test_a_collapsed_reference_is_re_measured_not_scaled(space):
    # Issue 15: numpy beside the candidate at 11 GFLOP/s against 76.6; scaled, 423.2 "best".
    bogus = ok(423.2, numpy=11.0, numpy_iqr=1.0, own=60.8)
    run, ev, study = search(space, [[bogus, ok(183.9)], [ok(150.0)], [ok(120.0)]])
    run.run(3)
    first = study.trials[0]
    assert first.value == pytest.approx(183.9) and first.user_attrs["remeasures"] == 1
    # The later candidates saw the re-measured best, never the bogus one.
    assert all(best is None or best < 200 for _, best, _ in ev.calls)
    assert run.stats.remeasured == 1 and run.stats.faults == 0


def test_a_figure_above_the_peak_for_good_fails_and_nothing_is_pruned_against_it(space):
    run, ev, study = search(space, [[ok(600.0)], [ok(150.0)], [ok(140.0)]])
    run.run(3)
    S = optuna.trial.TrialState
    first = study.trials[0]
    assert first.state == S.FAIL and first.user_attrs["failure"].startswith("measurement fault")
    assert "above the machine's measured FMA peak (508.0)" in first.user_attrs["failure"]
    assert first.user_attrs["remeasures"] == pl.MAX_REMEASURES
    assert [b for i, b, _ in ev.calls if i == 1] == [None]   # not compared with 600
    assert run.best_value() == pytest.approx(150.0) and run.stats.faults == 1


def test_a_reference_that_keeps_moving_gives_the_candidates_own_figure(space):
    moved = ok(300.0, numpy=30.0, numpy_iqr=1.0, own=117.5)
    run, ev, study = search(space, [[moved]])
    run.run(1)
    t = study.trials[0]
    assert t.value == pytest.approx(117.5) and "numpy ran at 30.0" in t.user_attrs["disturbed"]


def test_the_finish_drops_a_faulty_finalist_and_re_measures_a_wide_winner(space):
    wide = {"gflops": 150.0, "gflops_iqr": 122.0, "samples": 7, "unstable": True}
    steady = {"gflops": 140.0, "gflops_iqr": 2.0, "samples": 7, "unstable": False}
    fault = {"gflops": 700.0, "gflops_iqr": 2.0, "samples": 7, "unstable": False}
    run, ev, study = search(space, [[ok(150.0)], [ok(140.0)], [ok(130.0)]],
                            finals=[[wide, steady, fault], [steady, {**steady, "gflops": 120.0}, fault]])
    run.run(3)
    best = run.finish(top=3)
    assert best["finish_attempts"] == 2          # the wide winner was measured again
    assert best["gflops"] == 140.0 and not best["unstable"]
    assert "fault" in best["finalists"][2]


def test_a_slow_candidate_gets_a_budget_of_a_few_times_the_best(space):
    run, ev, study = search(space, [[ok(150.0, measure_seconds=3.0)], [ok(100.0, measure_seconds=1.0)],
                                    [Outcome(status="pruned", reason="stopped early: time",
                                             gflops=0.0, measure_seconds=12.0)]])
    run.run(3)
    budgets = [b for _, _, b in ev.calls]
    assert budgets[0] is None and budgets[1] == budgets[2] == TIME_STOP_FACTOR * 3.0
    assert run.stats.stopped_by_time == 1
    # Reported at most a fraction of the best: the sampler learns it is bad.
    assert study.trials[2].intermediate_values[0] == pytest.approx(150.0 / TIME_STOP_FACTOR)
    assert MIN_TIME_BUDGET <= TIME_STOP_FACTOR * 3.0


def test_the_noise_line_says_what_the_spread_means():
    quiet = pl.noise_summary([100.0, 101.0, 99.0, 100.5, 99.5])
    assert quiet["verdict"] == "quiet"
    noisy = pl.noise_summary([100.0, 40.0, 160.0, 90.0, 11.0])
    assert noisy["verdict"] == "noisy" and "quiet machine" in pl.noise_line(noisy)
    assert pl.noise_summary([100.0]) is None and pl.noise_line(None) is None


# Issue 15, README command (a) beside a busy loop pinned to core 1: OpenBLAS's 2-thread product
# collapsed to 15.3 GFLOP/s, steadily, while the band-parallel kernel held 56.6.
BUSY_NUMPY, BUSY_KERNEL, BUSY_SHARE = 15.3, 56.6, 0.6


def busy_search(space, candidate_share, finish_share):
    """A 3-candidate search whose every numpy figure is a steady 15.3 (the study's reference
    too), with the given ``contention.run_share`` of each candidate's measurement and the finish."""
    def cand(gflops):
        return Outcome(status="ok", gflops=gflops, numpy_gflops=BUSY_NUMPY, numpy_iqr=0.2,
                       own_gflops=gflops, measure_seconds=1.0, samples=5, gflops_iqr=1.0,
                       run_share=candidate_share)

    final = {"gflops": BUSY_KERNEL, "gflops_iqr": 1.0, "samples": 7, "unstable": False}
    run, ev, study = search(space, [[cand(56.0)], [cand(50.0)], [cand(45.0)]],
                            finals=[[final, {**final, "gflops": 50.0}, {**final, "gflops": 45.0}]])
    ev.reference_gflops = ev.finish_numpy = BUSY_NUMPY
    ev.finish_share = finish_share
    run.run(3)
    return run, run.finish(top=3), study


def document(run, best, study):
    return build_document(Problem(1536, 1536, 1536, "float64", 2), best, run.stats, run.counts(),
                          study=study.study_name, storage="memory", sampler="random",
                          sampler_seed=3, fingerprint_id="test", cached=False)


def test_a_machine_busy_for_the_whole_search_is_called_busy_however_steady_numpy_was(space):
    run, best, study = busy_search(space, BUSY_SHARE, BUSY_SHARE)
    # numpy's spread alone reads as a quiet machine: the fault of issue 15.
    assert pl.noise_summary(run.stats.numpy_figures)["verdict"] == "quiet"
    noise = run.noise()
    assert noise["verdict"] == "busy" and noise["spread"] < pl.QUIET_SPREAD
    assert noise["run_share"] == pytest.approx(BUSY_SHARE) and noise["busy_measurements"] == 4
    line = pl.noise_line(noise)
    assert line.startswith("machine noise: busy, the search's threads got 60% of the time")
    assert "other work held the cores" in line and "search again on a quiet machine" in line
    # The JSON's noise object keeps every field it had.
    assert {"numpy_gflops", "numpy_iqr", "spread", "measurements", "verdict", "meaning"} <= set(noise)


def test_a_busy_finish_alone_makes_the_verdict_busy_and_one_busy_candidate_does_not(space):
    run, best, study = busy_search(space, 0.97, BUSY_SHARE)
    assert run.noise()["verdict"] == "busy" and "in the finish" in pl.noise_line(run.noise())
    # One disturbed measurement among quiet ones is noise, judged by numpy's spread as before.
    steady = [100.0, 101.0, 99.0, 100.5, 99.5]
    assert pl.noise_summary(steady, [0.5, 0.97, 0.98, 0.99, 0.96], 0.97)["verdict"] == "quiet"
    noisy = pl.noise_summary([100.0, 40.0, 160.0, 90.0, 11.0], [0.95] * 5, 0.95)
    assert noisy["verdict"] == "noisy"
    # Where the OS says nothing of the cores, the spread decides alone.
    assert pl.noise_summary(steady, [None] * 5, None)["verdict"] == "quiet"


def test_percent_of_numpy_against_a_numpy_measured_busy_is_not_given_as_a_fact(space):
    run, best, study = busy_search(space, BUSY_SHARE, BUSY_SHARE)
    doc = document(run, best, study)
    assert doc["numpy_gflops"] == pytest.approx(BUSY_NUMPY)
    assert doc["percent_of_numpy"] is None                       # never "370%" as a fact
    assert doc["percent_of_numpy_measured"] == pytest.approx(100 * BUSY_KERNEL / BUSY_NUMPY)
    assert "busy machine" in doc["percent_of_numpy_unreliable"]
    assert doc["numpy_run_share"] == pytest.approx(BUSY_SHARE)
    # The finish that measured numpy got its cores: the ratio is a fact again, even if the
    # candidates were disturbed.
    run, best, study = busy_search(space, BUSY_SHARE, 0.97)
    doc = document(run, best, study)
    assert doc["percent_of_numpy"] == pytest.approx(100 * BUSY_KERNEL / BUSY_NUMPY)
    assert doc["percent_of_numpy_unreliable"] is None
