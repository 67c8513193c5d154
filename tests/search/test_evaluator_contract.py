"""One suite every evaluator passes: the worker process, in-process, and the replay table.

Each measures a kernel it knows, fails an unknown or invalid one with a reason, re-measures
finalists beside numpy, and closes cleanly (twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem
from gemmtune.search.evaluators import InProcessEvaluator, TableEvaluator, WorkerEvaluator
from gemmtune.search.messages import Outcome, RemeasureOutcome
from gemmtune.search.replay import load_table
from gemmtune.search.space import SearchSpace

from .helpers import cache_with_shared_kernels, shared_kernel_dir

TABLE = Path(__file__).parent.parent / "data" / "space_1024x1024x1024_f32_t1.json"
SMALL = Problem(24, 40, 16, "float32", 1)


@pytest.fixture(scope="module")
def table():
    return load_table(TABLE)


@pytest.fixture(params=["worker", "in-process", "table"])
def case(request, table, tmp_path_factory):
    """(evaluator, a kernel it can measure, a kernel it cannot)."""
    if request.param == "table":
        space = SearchSpace.from_dict(table["space"])
        known = space.decode(next(iter(_ok_points(table, space))))
        return TableEvaluator(table), known, KernelParams(MR=1, NR=8, MC=1, KC=1, NC=8)
    root = cache_with_shared_kernels(tmp_path_factory.mktemp("ev"), shared_kernel_dir(tmp_path_factory))
    cls = WorkerEvaluator if request.param == "worker" else InProcessEvaluator
    ev = cls(SMALL, root, samples=2, min_sample_seconds=0.001)
    # NR not a multiple of the vector lanes: the worker refuses it before compiling.
    return ev, KernelParams(), KernelParams(NR=12, NC=12 * 4, vec_bits=256)


def _ok_points(table, space):
    for row in table["rows"]:
        if row.get("status") == "ok":
            yield space.encode(KernelParams.from_dict(row["params"]))


def test_a_known_kernel_is_measured(case):
    ev, known, _ = case
    try:
        out = ev.evaluate(known, 0, None)
        assert isinstance(out, Outcome)
        assert out.status == "ok" and out.gflops > 0 and out.samples >= 1
    finally:
        ev.close()


def test_an_unknown_kernel_fails_with_a_reason(case):
    ev, _, unknown = case
    try:
        out = ev.evaluate(unknown, 1, None)
        assert out.status == "failed" and out.reason
    finally:
        ev.close()


def test_remeasure_gives_one_figure_per_finalist_and_numpy(case):
    ev, known, _ = case
    try:
        res = ev.remeasure([known], 2)
        assert isinstance(res, RemeasureOutcome) and res.status == "ok"
        assert len(res.candidates) == 1 and res.candidates[0]["gflops"] > 0
        ref = ev.numpy_gflops()
        assert ref is None or ref > 0
    finally:
        ev.close()
        ev.close()
