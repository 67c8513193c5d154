"""Simulation mode: replay a search over a recorded table instead of measuring.

The table (benchmarks/record_space.py) holds the measured figure of every configuration of
a small space for one shape. A replayed search uses the real study, sampler, starting points and
objective, with a ``TableEvaluator`` in place of the worker and an in-memory storage, so it
is deterministic for a given sampler seed and costs milliseconds per trial.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..families import StartingPoint, family_for
from ..problem import Problem
from .evaluators import TableEvaluator
from .space import SearchSpace


def load_table(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def table_starts(table: dict[str, Any], space: SearchSpace) -> list[StartingPoint]:
    """The starting points recorded with the table (computed on the machine that measured
    it; tables written before the rename call them "seeds")."""
    family = family_for(Problem.from_dict(table["problem"]))
    return [StartingPoint(space.snap(family.parse_params(s["params"])), s["source"])
            for s in table.get("starts", table.get("seeds", []))]


def replay(table: dict[str, Any], sampler: str, seed: int, trials: int,
           use_starts: bool = True, early_stop: bool = True,
           stop_at: float | None = None) -> list[float | None]:
    """Run one simulated search through ``gemmtune.search.tune``; the trajectory of its
    evaluated candidates.

    ``seed`` is the sampler's seed; ``stop_at`` ends the search at the first candidate
    reaching that figure.

    Returns:
        One entry per evaluated candidate in order: its GFLOP/s from the table, or None for
        a failed or early-stopped candidate (rejected points and repeats of a kernel already
        measured are not candidates: they cost nothing).
    """
    import optuna

    from .tune import tune

    space = SearchSpace.from_dict(table["space"])
    evaluator = TableEvaluator(table, early_stop=early_stop)
    trajectory: list[float | None] = []

    def record(frozen: Any) -> None:
        if "rejected" in frozen.user_attrs or "duplicate_of" in frozen.user_attrs:
            return
        ok = frozen.state == optuna.trial.TrialState.COMPLETE
        trajectory.append(frozen.value if ok else None)

    def reached() -> bool:
        return stop_at is not None and any(v is not None and v >= stop_at for v in trajectory[-1:])

    tune(evaluator.problem, root=None, trials=trials, sampler=sampler, sampler_seed=seed,
         storage=optuna.storages.InMemoryStorage(), study="replay", evaluator=evaluator,
         on_trial=record, stop=reached, cache=False, space=space,
         starts=table_starts(table, space) if use_starts else [], fp=_TABLE_FP, finish=False)
    return trajectory


# A replay is not a measurement of this machine: its study carries no real fingerprint.
_TABLE_FP = {"id": "replay", "identity": {}, "recorded": {}}


def trials_to_reach(trajectory: list[float | None], target: float) -> int | None:
    """1-based index of the first candidate at or above ``target`` (None: never reached)."""
    for i, v in enumerate(trajectory, 1):
        if v is not None and v >= target:
            return i
    return None
