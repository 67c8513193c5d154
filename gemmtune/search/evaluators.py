"""Evaluators measure candidates for a search; the search itself never times anything.

``WorkerEvaluator`` compiles, verifies and times in a worker process (see worker.py).
``InProcessEvaluator`` does the same in this process (no isolation from a crashing kernel:
for benchmarks and for families registered only in this process).
``TableEvaluator`` replays a recorded table of measurements (simulation mode): no compiling,
no timing noise, so replayed searches are deterministic and instant.

All return ``messages.Outcome`` from ``evaluate`` and ``messages.RemeasureOutcome`` from
``remeasure``; ``tests/search/test_evaluator_contract.py`` holds every one to that.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from ..measure import search_sample_seconds
from ..problem import Problem
from .messages import (REMEASURE_SAMPLE_SECONDS, EvaluateRequest, Outcome, RemeasureOutcome,
                       RemeasureRequest)
from .worker import EARLY_STOP_RATIO
from .worker_client import Worker


class Evaluator(Protocol):
    problem: Problem

    def evaluate(self, params: Any, trial: int, best_gflops: float | None) -> Outcome:
        """Measure one candidate; ``best_gflops`` (the best so far) enables the early stop."""

    def remeasure(self, candidates: list[Any], rounds: int) -> RemeasureOutcome:
        """Finalists and numpy, interleaved, with more samples (see worker.remeasure)."""

    def numpy_gflops(self) -> float | None:
        """numpy's figure for the problem (the study's reference scale), or None."""

    def close(self, kill: bool = False) -> None: ...


def default_timeout(problem: Problem) -> float:
    """Seconds one candidate may take: compile and start-up, plus its calls at a slow 1 GFLOP/s
    for the first samples before the early stop can act."""
    return 60.0 + 4.0 * problem.flops / 1e9


class WorkerEvaluator:
    """Measures in a worker process kept alive across candidates.

    Args:
        problem: the GEMM to tune.
        root: cache dir; compiled kernels go to ``<root>/kernels``.
        timeout: seconds one candidate may take before its worker is killed.
        samples: timing samples per candidate.
        min_sample_seconds: minimum length of a sample (default 0.05 s).
        early_stop: stop timing a candidate whose first samples are hopeless.
        reference_gflops: numpy's figure for the study; given, every candidate is timed paired
            with numpy and reported on that scale (see ``worker.evaluate``).
    """

    def __init__(self, problem: Problem, root: str | os.PathLike, timeout: float | None = None,
                 samples: int = 5, min_sample_seconds: float | None = None, early_stop: bool = True,
                 reference_gflops: float | None = None, family: str = ""):
        self.problem = problem
        self.family = family
        self.root = str(root)
        self.timeout = timeout if timeout is not None else default_timeout(problem)
        self.samples = samples
        self.min_sample_seconds = (min_sample_seconds if min_sample_seconds is not None
                                   else search_sample_seconds(0.05))
        self.early_stop = early_stop
        self.reference_gflops = reference_gflops
        # Seconds a compiled candidate may spend verifying and timing (set by the search
        # from the best candidate's time for the same work; None: no limit but ``timeout``).
        self.time_budget: float | None = None
        # Whether the worker got its cores while ``numpy_gflops`` timed (contention.run_share).
        self.reference_run_share: float | None = None
        self.worker = Worker()

    def request(self, params: Any, trial: int | None, best_gflops: float | None) -> EvaluateRequest:
        return EvaluateRequest(params=params.to_dict(), problem=self.problem.to_dict(),
                               family=self.family, root=self.root, samples=self.samples,
                               min_sample_seconds=self.min_sample_seconds, trial=trial,
                               best_gflops=best_gflops if self.early_stop and best_gflops else None,
                               reference_gflops=self.reference_gflops or None)

    def evaluate(self, params: Any, trial: int, best_gflops: float | None) -> Outcome:
        return self.worker.run(self.request(params, trial, best_gflops), self.timeout,
                               budget=self.time_budget if self.early_stop else None)

    def numpy_gflops(self) -> float | None:
        """numpy's figure for the problem, measured in the worker (None if that failed)."""
        figure = self.worker.numpy_gflops(self.problem.to_dict(), self.root, self.timeout,
                                          self.family)
        self.reference_run_share = self.worker.numpy_run_share
        return figure

    def remeasure_request(self, candidates: list[Any], rounds: int) -> RemeasureRequest:
        return RemeasureRequest(candidates=[c.to_dict() for c in candidates],
                                problem=self.problem.to_dict(), family=self.family,
                                root=self.root, rounds=rounds,
                                min_sample_seconds=search_sample_seconds(REMEASURE_SAMPLE_SECONDS))

    def remeasure(self, candidates: list[Any], rounds: int = 7) -> RemeasureOutcome:
        return self.worker.run(self.remeasure_request(candidates, rounds),
                               self.timeout * (1 + len(candidates)))

    def close(self, kill: bool = False) -> None:
        """End the worker: at once with ``kill`` (after Ctrl-C), else let it exit."""
        if kill:
            self.worker.kill()
        else:
            self.worker.close()


class InProcessEvaluator(WorkerEvaluator):
    """Measures in this process: no time limit and no isolation from a crashing kernel.

    For benchmarks, and for kernel families registered only in this process (a worker
    process would not know them).
    """

    def __init__(self, problem: Problem, root: str | os.PathLike, **kwargs: Any):
        kwargs.pop("timeout", None)
        super().__init__(problem, root, **kwargs)
        self.worker = None  # type: ignore[assignment]

    def evaluate(self, params: Any, trial: int, best_gflops: float | None) -> Outcome:
        from .worker import evaluate

        return evaluate(self.request(params, trial, best_gflops))

    def numpy_gflops(self) -> float | None:
        res = self.remeasure([], 7)
        self.reference_run_share = res.run_share if res.status == "ok" else None
        return res.numpy.get("gflops") if res.status == "ok" else None

    def remeasure(self, candidates: list[Any], rounds: int = 7) -> RemeasureOutcome:
        from .worker import remeasure

        return remeasure(self.remeasure_request(candidates, rounds))

    def close(self, kill: bool = False) -> None:
        pass


class TableEvaluator:
    """Replays a table written by benchmarks/record_space.py.

    A candidate missing from the table is reported failed (a replayed search over the
    table's own space never proposes one). The early stop is simulated with the same rule
    as the worker's.
    """

    def __init__(self, table: dict[str, Any], early_stop: bool = True):
        from ..families import family_for

        self.table = table
        self.problem = Problem.from_dict(table["problem"])
        self.family = family_for(self.problem).name
        self.early_stop = early_stop
        parse = family_for(self.problem).parse_params
        self.rows = {parse(r["params"]).key(): r for r in table["rows"]}

    @classmethod
    def load(cls, path: str | os.PathLike, early_stop: bool = True) -> "TableEvaluator":
        return cls(json.loads(Path(path).read_text()), early_stop)

    def best_gflops(self) -> float:
        return max(r.get("gflops", 0.0) for r in self.table["rows"] if r.get("status") == "ok")

    def evaluate(self, params: Any, trial: int, best_gflops: float | None) -> Outcome:
        row = self.rows.get(params.key())
        if row is None:
            return Outcome(status="failed", reason=f"{params.label()} is not in the table")
        out = Outcome(**{k: row[k] for k in ("status", "reason", "gflops", "gflops_iqr", "samples",
                                             "compile_seconds", "residual") if k in row})
        if (out.status == "ok" and self.early_stop and best_gflops
                and out.gflops < EARLY_STOP_RATIO * best_gflops):
            out.status = "pruned"
            out.reason = "stopped early (replayed)"
        return out

    def numpy_gflops(self) -> float | None:
        return self.table.get("numpy_gflops")

    def remeasure(self, candidates: list[Any], rounds: int = 7) -> RemeasureOutcome:
        figures = []
        for c in candidates:
            row = self.rows.get(c.key())
            figures.append({"gflops": row["gflops"], "gflops_iqr": row.get("gflops_iqr", 0.0),
                            "samples": row.get("samples", 0), "unstable": False}
                           if row else {"error": "not in the table"})
        numpy = self.table.get("numpy_gflops")
        return RemeasureOutcome(numpy={"gflops": numpy} if numpy else {}, candidates=figures)

    def close(self, kill: bool = False) -> None:
        pass
