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

Several workers (processes or machines) may run searches on one study: each trial records
the worker that ran it, the early stop compares against the best of every worker, and a
seed that two workers enqueued at the same moment is measured once (the lower trial number
runs, the other is rejected without compiling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..kernels.params import KernelParams
from .space import Rejected, SearchSpace

# Attributes of a result copied onto its trial.
_RESULT_ATTRS = ("compile_seconds", "gflops_iqr", "samples", "repeats", "unstable", "residual",
                 "seconds", "numpy_gflops", "numpy_ratio")


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
    compile_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False

    @property
    def wall_seconds(self) -> float:
        return time.monotonic() - self.started


class Search:
    """Drives one study with one evaluator.

    Args:
        study: the Optuna study (seeds already enqueued).
        space: the search space the study samples.
        evaluator: measures candidates (WorkerEvaluator or TableEvaluator).
    """

    def __init__(self, study: Any, space: SearchSpace, evaluator: Any, worker: str | None = None):
        self.study = study
        self.space = space
        self.evaluator = evaluator
        self.worker = worker if worker is not None else worker_name()
        self.stats = RunStats()
        self._best: float | None = None

    def best_value(self) -> float | None:
        import optuna

        if self._best is None:
            done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            self._best = max((t.value for t in done), default=None)
        return self._best

    def objective(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", self.worker)
        try:
            params = self.space.suggest(trial)
            if "seed" in trial.user_attrs:
                self._check_seed_unique(trial.number)
        except Rejected as e:
            self.stats.rejected += 1
            trial.set_user_attr("rejected", str(e))
            raise optuna.TrialPruned(f"rejected: {e}") from None
        trial.set_user_attr("kernel", params.to_dict())
        earlier = self._measured_before(params, trial.number)
        if earlier is not None:
            return self._repeat(trial, earlier)
        self._best = None  # other workers may have finished better trials since
        res = self.evaluator.evaluate(params, trial.number, self.best_value())
        self.stats.evaluated += 1
        for key in _RESULT_ATTRS:
            if key in res:
                trial.set_user_attr(key, res[key])
        self.stats.compile_seconds += float(res.get("compile_seconds") or 0.0)
        status = res.get("status")
        if status == "pruned":
            self.stats.pruned += 1
            trial.set_user_attr("pruned", res.get("reason", ""))
            trial.report(float(res.get("gflops", 0.0)), 0)
            raise optuna.TrialPruned(res.get("reason", ""))
        if status != "ok":
            self.stats.failed += 1
            trial.set_user_attr("failure", res.get("reason") or "failed")
            raise CandidateFailed(res.get("reason") or "failed")
        value = float(res["gflops"])
        if self._best is None or value > self._best:
            self._best = value
        return value

    def run(self, trials: int, on_trial: Callable[[Any], None] | None = None,
            max_attempts: int | None = None, stop: Callable[[], bool] | None = None,
            timeout: float | None = None) -> RunStats:
        """Evaluate ``trials`` candidates (rejected points do not count).

        ``stop`` is asked after every trial; True ends the run early. With ``timeout``, no
        candidate starts after that many seconds (the one in flight finishes).

        KeyboardInterrupt ends the run cleanly: the trial in flight is marked failed, the
        finished ones stay in the study, and ``stats.interrupted`` is set.
        """
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        # A sampler stuck on invalid points must not loop for ever.
        max_attempts = max_attempts if max_attempts is not None else 20 * trials + 100
        callbacks = [lambda study, frozen: on_trial(frozen)] if on_trial else None
        attempts = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.stats.evaluated < trials and attempts < max_attempts:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                sampler = self.study.sampler
                if hasattr(sampler, "is_exhausted") and sampler.is_exhausted(self.study) \
                        and not self._waiting():
                    break
                self.study.optimize(self.objective, n_trials=1, catch=(CandidateFailed,),
                                    callbacks=callbacks, gc_after_trial=False)
                attempts += 1
                if stop is not None and stop():
                    break
        except KeyboardInterrupt:
            self.stats.interrupted = True
        return self.stats

    def _measured_before(self, params: KernelParams, number: int) -> Any:
        """The earliest finished trial (complete, failed or stopped early) of the same kernel."""
        import optuna

        S = optuna.trial.TrialState
        key = params.key()
        for t in self.study.get_trials(deepcopy=False, states=(S.COMPLETE, S.FAIL, S.PRUNED)):
            kernel = t.user_attrs.get("kernel")
            if t.number != number and "duplicate_of" not in t.user_attrs and kernel is not None \
                    and KernelParams.from_dict(kernel).key() == key:
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

    def _check_seed_unique(self, number: int) -> None:
        """Reject seed trial ``number`` when an earlier trial holds the same enqueued point."""
        trials = self.study.get_trials(deepcopy=False)
        mine = next((t for t in trials if t.number == number), None)
        point = mine.system_attrs.get("fixed_params") if mine is not None else None
        if point is None:
            return
        for t in trials:
            if t.number < number and "seed" in t.user_attrs \
                    and t.system_attrs.get("fixed_params") == point:
                raise Rejected(f"the same seed is trial {t.number}")

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
            key = KernelParams.from_dict(kernel).key()
            if key not in seen:
                seen.add(key)
                out.append(t)
            if len(out) == n:
                break
        return out

    def _best_seed(self) -> Any:
        """The best finished trial among the enqueued seeds, or None."""
        import optuna

        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        seeds = [t for t in done if "fixed_params" in t.system_attrs and "kernel" in t.user_attrs]
        return max(seeds, key=lambda t: (t.value, -t.number), default=None)

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
        # The best seed is always a finalist: on a noisy machine a candidate can top the
        # search by luck, and re-measured side by side it must still beat the seed to win.
        seed = self._best_seed()
        keys = {KernelParams.from_dict(t.user_attrs["kernel"]).key() for t in finalists}
        if seed is not None and KernelParams.from_dict(seed.user_attrs["kernel"]).key() not in keys:
            finalists.append(seed)
        params = [KernelParams.from_dict(t.user_attrs["kernel"]) for t in finalists]
        figures: list[dict[str, Any]] = []
        numpy: float | None = None
        if remeasure:
            res = self.evaluator.remeasure(params, rounds)
            if res.get("status") == "ok":
                figures = res["candidates"]
                numpy = res.get("numpy", {}).get("gflops")
        rows = []
        for i, (t, p) in enumerate(zip(finalists, params)):
            fig = figures[i] if i < len(figures) and "gflops" in figures[i] else None
            rows.append({"trial": t.number, "params": p.to_dict(), "label": p.label(),
                         "search_gflops": t.value,
                         "gflops": fig["gflops"] if fig else t.value,
                         "gflops_iqr": fig.get("gflops_iqr") if fig else t.user_attrs.get("gflops_iqr"),
                         "samples": fig.get("samples") if fig else t.user_attrs.get("samples"),
                         "unstable": fig.get("unstable") if fig else t.user_attrs.get("unstable"),
                         "remeasured": fig is not None})
        winner = max(rows, key=lambda r: r["gflops"])
        return {**winner, "numpy_gflops": numpy, "finalists": rows}

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
