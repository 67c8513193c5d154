"""One search: trials through an evaluator, then the finish, then the summary document.

The sampler proposes a point of the space; a point that is not a valid kernel is marked
pruned as "rejected" without compiling (it costs nothing and does not count towards the
trial budget, but the sampler learns it is bad). Each candidate then goes to the evaluator;
a failed one (compile error, wrong result, crash, timeout) is a failed trial with the reason
in its user attributes; an early-stopped one is pruned with its partial figure reported.

A kernel the study has already measured is not measured again: samplers re-propose points
(TPE does so more as it narrows in on a region, random search by chance), and in a space of
a few hundred kernels that would spend a good share of the budget on repeats. The trial
gets the earlier outcome at no cost ("duplicate_of" in its user attributes) and does not
count towards the budget; the finish re-measures the best kernels anyway.

Every figure is checked before it counts (``plausibility.py``): one above the machine's
ceiling, or paired with a numpy run that moved far from the study's reference, is measured
again; above the ceiling for good, the candidate fails with the reason (kept out of the best,
nothing is pruned against it); a reference that moved every time gives the candidate its own,
unscaled figure. A candidate that has spent more than ``TIME_STOP_FACTOR`` times the best
candidate's measuring time is stopped by its worker's time budget.

Several workers (processes or machines) may run searches on one study: each trial records
the worker that ran it, the early stop compares against the best of every worker, and a
starting point that two workers enqueued at the same moment is measured once (the lower trial number
runs, the other is rejected without compiling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .ctrl_c import HeldCtrlC
from .plausibility import MAX_REMEASURES, above_ceiling, fault, reference_moved
from .space import Rejected
from .study import is_start

# Attributes of an outcome copied onto its trial.
_RESULT_ATTRS = ("compile_seconds", "gflops_iqr", "samples", "repeats", "unstable", "residual",
                 "seconds", "numpy_gflops", "numpy_ratio", "numpy_iqr", "alone_gflops",
                 "after_gflops", "own_gflops", "measure_seconds", "disturbed", "run_share")
TIME_STOP_FACTOR = 4.0    # a candidate may measure this many times as long as the best did
MIN_TIME_BUDGET = 5.0     # seconds: below this a budget would cut ordinary scheduling noise
WIDE_SPREAD_REMEASURES = 2   # extra finishes when the winner's IQR is wide


def worker_name() -> str:
    """``host:pid``: which worker ran a trial, for studies shared by several."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


class CandidateFailed(Exception):
    """The objective's way of marking a trial failed (caught by study.optimize)."""


@dataclass
class RunStats:
    """What this run did (a resumed study also has trials from earlier runs)."""

    evaluated: int = 0      # candidates sent to the evaluator
    failed: int = 0
    pruned: int = 0         # stopped early
    rejected: int = 0       # invalid points, never compiled
    duplicates: int = 0     # kernels measured before in the study, given their outcome again
    remeasured: int = 0     # extra measurements of figures that looked faulty
    faults: int = 0         # candidates failed because their figure stayed faulty
    stopped_by_time: int = 0
    compile_seconds: float = 0.0
    numpy_figures: list = field(default_factory=list)   # numpy's figure beside each candidate
    # Whether the worker got its cores (``contention.run_share``) in each measurement: the
    # candidates, the finish, and the study's numpy reference when this run measured it.
    run_shares: list = field(default_factory=list)
    finish_run_share: float | None = None   # ... in the finish whose figures are reported
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False

    @property
    def wall_seconds(self) -> float:
        return time.monotonic() - self.started


class Search:
    """Drives one study with one evaluator.

    Args:
        study: the Optuna study (starting points already enqueued).
        space: the search space the study samples.
        evaluator: measures candidates (``evaluators.py``).
        family: the kernel family (default: the one that computes the evaluator's problem).
    """

    def __init__(self, study: Any, space: Any, evaluator: Any, worker: str | None = None,
                 family: Any = None, ceiling: float | None = None, ceiling_what: str = "FMA peak"):
        from ..families import family_for

        self.ceiling = ceiling
        self.ceiling_what = ceiling_what
        self.study = study
        self.space = space
        self.evaluator = evaluator
        self.family = family if family is not None else family_for(evaluator.problem)
        self.worker = worker if worker is not None else worker_name()
        self.stats = RunStats()
        self._best: float | None = None
        self._ctrl_c = HeldCtrlC()

    def best_value(self) -> float | None:
        import optuna

        if self._best is None:
            done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            self._best = max((t.value for t in done), default=None)
        return self._best

    def _held_objective(self, trial: Any) -> float:
        """``objective`` with Ctrl-C allowed while a candidate is compiled and measured (the
        long part): a trial it interrupts fails with the reason. The objective's own storage
        reads and writes run held: a KeyboardInterrupt inside one could leave its SQLite
        transaction open, and then the heartbeat thread and the trial's outcome wait for a
        lock nobody releases ("database is locked" after the 30 s busy timeout, and Optuna's
        "Should not reach" in place of the Ctrl-C; seen once in a loaded test run)."""
        try:
            self._ctrl_c.allow()  # a Ctrl-C held while the trial was created lands here
            self._ctrl_c.hold()
            return self.objective(trial)
        except KeyboardInterrupt:
            self._ctrl_c.hold()
            trial.set_user_attr("failure", "interrupted by Ctrl-C before it finished")
            raise
        finally:
            self._ctrl_c.hold()

    def objective(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", self.worker)
        try:
            params = self.space.suggest(trial)
            if is_start(trial):
                self._check_start_unique(trial.number)
        except Rejected as e:
            self.stats.rejected += 1
            trial.set_user_attr("rejected", str(e))
            raise optuna.TrialPruned(f"rejected: {e}") from None
        trial.set_user_attr("kernel", params.to_dict())
        earlier = self._measured_before(params, trial.number)
        if earlier is not None:
            return self._repeat(trial, earlier)
        self._best = None  # other workers may have finished better trials since
        best = self.best_value()
        if hasattr(self.evaluator, "time_budget"):
            self.evaluator.time_budget = self.time_budget()
        res = self._evaluate(params, trial.number, best)
        res = self._plausible(res, params, trial, best)
        self.stats.evaluated += 1
        if res.numpy_gflops:
            self.stats.numpy_figures.append(float(res.numpy_gflops))
        if getattr(res, "run_share", None) is not None:
            self.stats.run_shares.append(float(res.run_share))
        for key, value in res.attrs().items():
            if key in _RESULT_ATTRS:
                trial.set_user_attr(key, value)
        self.stats.compile_seconds += float(res.compile_seconds or 0.0)
        if res.status == "pruned":
            self.stats.pruned += 1
            trial.set_user_attr("pruned", res.reason or "")
            figure = float(res.gflops or 0.0)
            if not figure and best and res.measure_seconds:
                # Stopped by time: it did less than the best's work in TIME_STOP_FACTOR times
                # the best's time, so it is at most this fast.
                self.stats.stopped_by_time += 1
                figure = best / TIME_STOP_FACTOR
            trial.report(figure, 0)
            raise optuna.TrialPruned(res.reason or "")
        if res.status != "ok":
            self.stats.failed += 1
            trial.set_user_attr("failure", res.reason or "failed")
            raise CandidateFailed(res.reason or "failed")
        value = float(res.gflops)
        if self._best is None or value > self._best:
            self._best = value
        return value

    def _evaluate(self, params: Any, number: int, best: float | None) -> Any:
        """The evaluator's measurement, with Ctrl-C allowed (held again after it)."""
        self._ctrl_c.allow()
        try:
            return self.evaluator.evaluate(params, number, best)
        finally:
            self._ctrl_c.hold()

    def time_budget(self) -> float | None:
        """Seconds a compiled candidate may spend verifying and timing: ``TIME_STOP_FACTOR``
        times what the best candidate spent on the same work (None before any has finished)."""
        import optuna

        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        timed = [t for t in done if t.user_attrs.get("measure_seconds")]
        if not timed:
            return None
        top = max(timed, key=lambda t: t.value)
        return max(MIN_TIME_BUDGET, TIME_STOP_FACTOR * float(top.user_attrs["measure_seconds"]))

    def _plausible(self, res: Any, params: Any, trial: Any, best: float | None) -> Any:
        """``res``, measured again while its figure looks like a fault (``plausibility.py``);
        failed when it stays above the ceiling, given its own unscaled figure when the
        reference moved every time."""
        reference = getattr(self.evaluator, "reference_gflops", None)
        why = fault(res, reference, self.ceiling, self.ceiling_what)
        tries = 0
        while why and tries < MAX_REMEASURES:
            tries += 1
            self.stats.remeasured += 1
            res = self._evaluate(params, trial.number, best)
            why = fault(res, reference, self.ceiling, self.ceiling_what)
        if tries:
            trial.set_user_attr("remeasures", tries)
        if not why:
            return res
        if not above_ceiling(res.gflops, self.ceiling, self.ceiling_what) and res.own_gflops \
                and reference_moved(res.numpy_gflops, res.numpy_iqr, reference) \
                and not above_ceiling(res.own_gflops, self.ceiling, self.ceiling_what):
            # Re-measured, not scaled: the ratio to a numpy that kept moving means nothing,
            # the candidate's own figure is what was measured.
            res.disturbed = why
            res.gflops = float(res.own_gflops)
            return res
        self.stats.faults += 1
        res.status = "failed"
        res.reason = f"measurement fault: {why}, in {tries + 1} measurements"
        return res

    def noise(self) -> dict[str, Any] | None:
        """How steady numpy's own figure was across this run, and whether the run got its
        cores: the machine's noise."""
        from .plausibility import noise_summary

        return noise_summary(self.stats.numpy_figures, self.stats.run_shares,
                             self.stats.finish_run_share)

    def run(self, trials: int, on_trial: Callable[[Any], None] | None = None,
            max_attempts: int | None = None, stop: Callable[[], bool] | None = None,
            timeout: float | None = None) -> RunStats:
        """Evaluate ``trials`` candidates (rejected points do not count).

        ``stop`` is asked after every trial; True ends the run early. With ``timeout``, no
        candidate starts after that many seconds (the one in flight finishes).

        KeyboardInterrupt ends the run cleanly: the trial in flight is marked failed (reason
        in its "failure" attribute; one whose outcome was being written keeps it), the
        finished ones stay in the study, and ``stats.interrupted`` is set. No trial is left
        RUNNING (``HeldCtrlC``).
        """
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        # A sampler stuck on invalid points must not loop for ever.
        max_attempts = max_attempts if max_attempts is not None else 20 * trials + 100
        callbacks = [lambda study, frozen: on_trial(frozen)] if on_trial else None
        attempts = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with self._ctrl_c:
                while self.stats.evaluated < trials and attempts < max_attempts:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    sampler = self.study.sampler
                    if hasattr(sampler, "is_exhausted") and sampler.is_exhausted(self.study) \
                            and not self._waiting():
                        break
                    self._ctrl_c.hold()
                    self.study.optimize(self._held_objective, n_trials=1,
                                        catch=(CandidateFailed,), callbacks=callbacks,
                                        gc_after_trial=False)
                    self._ctrl_c.allow()
                    attempts += 1
                    if stop is not None and stop():
                        break
        except KeyboardInterrupt:
            self.stats.interrupted = True
        return self.stats

    def _key(self, kernel: dict[str, Any]) -> str:
        return self.family.parse_params(kernel).key()

    def _measured_before(self, params: Any, number: int) -> Any:
        """The earliest finished trial (complete, failed or stopped early) of the same kernel."""
        import optuna

        S = optuna.trial.TrialState
        key = params.key()
        for t in self.study.get_trials(deepcopy=False, states=(S.COMPLETE, S.FAIL, S.PRUNED)):
            kernel = t.user_attrs.get("kernel")
            if t.number != number and "duplicate_of" not in t.user_attrs and kernel is not None \
                    and self._key(kernel) == key:
                return t
        return None

    def _repeat(self, trial: Any, earlier: Any) -> float:
        """Give ``trial`` the outcome of ``earlier``, the same kernel, without measuring it."""
        import optuna

        self.stats.duplicates += 1
        trial.set_user_attr("duplicate_of", earlier.number)
        for key in _RESULT_ATTRS:  # so that a repeat that becomes the best trial reads as one
            if key in earlier.user_attrs:
                trial.set_user_attr(key, earlier.user_attrs[key])
        if earlier.state == optuna.trial.TrialState.COMPLETE:
            return float(earlier.value)
        # A failed kernel fails again and one stopped early would stop again: pruned, with
        # the earlier partial figure, so that the sampler learns it is bad (TPE ignores
        # failed trials and would keep proposing the point).
        step = max(earlier.intermediate_values, default=None)
        trial.report(earlier.intermediate_values[step] if step is not None else 0.0, 0)
        raise optuna.TrialPruned(f"same kernel as trial {earlier.number}")

    def _check_start_unique(self, number: int) -> None:
        """Reject starting-point trial ``number`` when an earlier trial holds the same
        enqueued point (two workers enqueued it at the same moment)."""
        trials = self.study.get_trials(deepcopy=False)
        mine = next((t for t in trials if t.number == number), None)
        point = mine.system_attrs.get("fixed_params") if mine is not None else None
        if point is None:
            return
        for t in trials:
            if t.number < number and is_start(t) \
                    and t.system_attrs.get("fixed_params") == point:
                raise Rejected(f"the same starting point is trial {t.number}")

    def _waiting(self) -> bool:
        import optuna

        return bool(self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))

    def top(self, n: int) -> list[Any]:
        """The ``n`` best finished trials with distinct kernels, best first."""
        import optuna

        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        out, seen = [], set()
        for t in sorted(done, key=lambda t: (-t.value, t.number)):
            kernel = t.user_attrs.get("kernel")
            if kernel is None:
                continue
            key = self._key(kernel)
            if key not in seen:
                seen.add(key)
                out.append(t)
            if len(out) == n:
                break
        return out

    def _best_start(self) -> Any:
        """The best finished trial among the enqueued starting points, or None."""
        import optuna

        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        starts = [t for t in done if "fixed_params" in t.system_attrs and "kernel" in t.user_attrs]
        return max(starts, key=lambda t: (t.value, -t.number), default=None)

    def finish(self, top: int = 3, rounds: int = 7, remeasure: bool = True) -> dict[str, Any] | None:
        """Pick the winner: the top finalists re-measured interleaved with numpy.

        With ``remeasure`` False (after Ctrl-C) the best search figure wins as it is.

        Returns:
            ``{"params", "gflops", "gflops_iqr", "samples", "trial", "search_gflops",
            "numpy_gflops", "finalists"}`` or None when no trial finished.
        """
        finalists = self.top(top)
        if not finalists:
            return None
        # The best starting point is always a finalist: on a noisy machine a candidate can top
        # the search by luck, and re-measured side by side it must still beat it to win.
        start = self._best_start()
        keys = {self._key(t.user_attrs["kernel"]) for t in finalists}
        if start is not None and self._key(start.user_attrs["kernel"]) not in keys:
            finalists.append(start)
        params = [self.family.parse_params(t.user_attrs["kernel"]) for t in finalists]
        rows = self._finalist_rows(finalists, params, rounds, remeasure)
        # A wide spread on the winner means the side-by-side figures were disturbed: measure
        # them again before a figure is cached as this machine's.
        attempts = 1
        while remeasure and attempts <= WIDE_SPREAD_REMEASURES:
            winner = self._winner(rows)
            if winner is None or not winner["remeasured"] or not winner.get("unstable"):
                break
            attempts += 1
            self.stats.remeasured += 1
            again = self._finalist_rows(finalists, params, rounds, remeasure)
            if self._winner(again) is not None:
                rows = again
        winner = self._winner(rows)
        if winner is None:
            return None
        # The finish's numpy figure is what "% of numpy" divides by: whether the worker got
        # its cores then says whether that figure is numpy's own speed.
        self.stats.finish_run_share = rows[0].get("finish_run_share")
        return {**winner, "numpy_gflops": rows[0].get("finish_numpy"),
                "numpy_run_share": rows[0].get("finish_run_share"), "finalists": rows,
                "finish_attempts": attempts}

    def _finalist_rows(self, finalists: list[Any], params: list[Any], rounds: int,
                       remeasure: bool) -> list[dict[str, Any]]:
        figures: list[dict[str, Any]] = []
        numpy: float | None = None
        share: float | None = None
        if remeasure:
            res = self.evaluator.remeasure(params, rounds)
            if res.status == "ok":
                figures = res.candidates
                numpy = res.numpy.get("gflops")
                if numpy:
                    self.stats.numpy_figures.append(float(numpy))
                share = getattr(res, "run_share", None)
                if share is not None:
                    self.stats.run_shares.append(float(share))
        rows = []
        for i, (t, p) in enumerate(zip(finalists, params)):
            fig = figures[i] if i < len(figures) and "gflops" in figures[i] else None
            row = {"trial": t.number, "params": p.to_dict(), "label": p.label(),
                   "search_gflops": t.value,
                   "gflops": fig["gflops"] if fig else t.value,
                   "gflops_iqr": fig.get("gflops_iqr") if fig else t.user_attrs.get("gflops_iqr"),
                   "samples": fig.get("samples") if fig else t.user_attrs.get("samples"),
                   "unstable": fig.get("unstable") if fig else t.user_attrs.get("unstable"),
                   "remeasured": fig is not None, "finish_numpy": numpy,
                   "finish_run_share": share}
            for key in ("alone_gflops", "after_gflops", "condition"):
                if fig and key in fig:
                    row[key] = fig[key]
            why = above_ceiling(row["gflops"], self.ceiling, self.ceiling_what)
            if why:
                row["fault"] = why
            rows.append(row)
        return rows

    @staticmethod
    def _winner(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The fastest row whose figure is not a fault."""
        return max((r for r in rows if "fault" not in r), key=lambda r: r["gflops"], default=None)

    def counts(self) -> dict[str, int]:
        """Trials of the whole study by outcome (rejected points and repeats of a measured kernel
        apart; neither was measured)."""
        import optuna

        S = optuna.trial.TrialState
        out = {"complete": 0, "failed": 0, "pruned": 0, "rejected": 0, "duplicates": 0}
        for t in self.study.get_trials(deepcopy=False):
            if "duplicate_of" in t.user_attrs:
                out["duplicates"] += 1
            elif t.state == S.COMPLETE:
                out["complete"] += 1
            elif t.state == S.FAIL:
                out["failed"] += 1
            elif t.state == S.PRUNED:
                out["rejected" if "rejected" in t.user_attrs else "pruned"] += 1
        out["evaluated"] = out["complete"] + out["failed"] + out["pruned"]
        return out
