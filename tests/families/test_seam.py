"""The seam, end to end: a family registered from outside the package is searched, cached,
exported, imported and run by ``matmul`` without any change to gemmtune."""

from __future__ import annotations

import json

import numpy as np

import gemmtune
from gemmtune.cache import TuningCache
from gemmtune.families import family_for, registered
from gemmtune.fingerprint import fingerprint, fingerprint_id
from gemmtune.problem import Problem
from gemmtune.search.evaluators import InProcessEvaluator
from gemmtune.search.tune import tune
from gemmtune.transfer import build_document, import_document

from . import toy
from .toy import ToyFamily


def test_a_toy_family_is_searched_cached_exported_imported_and_run(tmp_path):
    root, other = tmp_path / "a", tmp_path / "b"
    problem = Problem(40, 48, 24, "float32", 1)
    with registered(ToyFamily()):
        assert family_for(problem).name == "toy-numpy"
        evaluator = InProcessEvaluator(problem, root, samples=2, min_sample_seconds=0.001)
        doc = tune(problem, root=root, trials=4, evaluator=evaluator, sampler="random",
                   sampler_seed=0)
        assert doc["family"] == "toy-numpy" and doc["cached"] is True
        assert set(doc["best"]["params"]) == {"block", "order"}
        assert doc["study"]["evaluated"] >= 4

        entry = TuningCache(root).get(fingerprint_id(), problem)
        assert entry.family == "toy-numpy" and entry.params == doc["best"]["params"]

        export = build_document(TuningCache(root).entries(), fingerprint())
        report = import_document(TuningCache(other), json.loads(json.dumps(export)), "x.json",
                                 fingerprint_id())
        assert len(report.imported) == 1

        toy.CALLS.clear()
        A = np.ones((40, 24), np.float32)
        B = np.ones((24, 48), np.float32)
        C = gemmtune.matmul(A, B, threads=1, cache_dir=other)
        assert np.array_equal(C, A @ B)
        assert toy.CALLS == [(doc["best"]["params"]["block"], (40, 48, 24))]
        cfg = gemmtune.best_config(40, 48, 24, threads=1, cache_dir=other)
        assert cfg["source"] == "exact" and cfg["family"] == "toy-numpy"
    # Unregistered again: the same file's entry is not one the float family can use.
    assert family_for(problem).name == "numba-gemm"
