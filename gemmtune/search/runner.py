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
starting point that two workers enqueued at the same moment is measured once (the lower trial number
runs, the other is rejected without compiling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .space import Rejected
from .study import is_start

# Attributes of an outcome copied onto its trial.
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
        study: the Optuna study (starting points already enqueued).
        space: the search space the study samples.
        evaluator: measures candidates (``evaluators.py``).
        family: the kernel family (default: the one that computes the evaluator's problem).
    """

    def __init__(self, study: Any, space: Any, evaluator: Any, worker: str | None = None,
                 family: Any = None):
        from ..families import family_for

        self.study = study
        self.space = space
        self.evaluator = evaluator
        self.family = family if family is not None else family_for(evaluator.problem)
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
        res = self.evaluator.evaluate(params, trial.number, self.best_value())
        self.stats.evaluated += 1
        for key, value in res.attrs().items():
            if key in _RESULT_ATTRS:
                trial.set_user_attr(key, value)
        self.stats.compile_seconds += float(res.compile_seconds or 0.0)
        if res.status == "pruned":
            self.stats.pruned += 1
            trial.set_user_attr("pruned", res.reason or "")
            trial.report(float(res.gflops or 0.0), 0)
            raise optuna.TrialPruned(res.reason or "")
        if res.status != "ok":
            self.stats.failed += 1
            trial.set_user_attr("failure", res.reason or "failed")
            raise CandidateFailed(res.reason or "failed")
        value = float(res.gflops)
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
        figures: list[dict[str, Any]] = []
        numpy: float | None = None
        if remeasure:
            res = self.evaluator.remeasure(params, rounds)
            if res.status == "ok":
                figures = res.candidates
                numpy = res.numpy.get("gflops")
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
