"""No wrong configuration is ever cached or run.

A kernel that computes a wrong C is planted with the test-only generator fault
GEMMTUNE_TEST_FAULT=wrong:<label> (gemmtune/faults.py): the module generated for that label
adds 1 to the last element of C, as a generator or compiler bug would. Then:
- a search marks the candidate failed (its reference check fails) and never picks it;
- import refuses it as another machine's, and with --force stores it unverified;
- matmul verifies it before first use, rejects it, and computes with the next option.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import optuna
import pytest

import gemmtune
from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint, fingerprint_id
from gemmtune.faults import ENV as ENV_TEST_FAULT
from gemmtune.kernels.params import KernelParams
from gemmtune.kernels.reference import check
from gemmtune.problem import Problem
from gemmtune.families import family_for
from gemmtune.search.starts import starting_points
from gemmtune.search.space import SearchSpace
from gemmtune.transfer import build_document
from tests.factories import OTHER_ID, make_entry

from .searching import default_study, load_trials, make_root, search_args, storage_url

SHAPE = (48, 40, 56)


@pytest.fixture
def root(cache_root, tmp_path_factory):
    return make_root(cache_root, tmp_path_factory)


def _seed_labels() -> list[str]:
    fp = fingerprint()
    space = SearchSpace.for_fingerprint("float32", 1, fp)
    p = Problem(*SHAPE, "float32", 1)
    seeds = starting_points(family_for(p), space, p, fp=fp, cache=None, fingerprint_id=fp["id"])
    return [space.decode(space.encode(s.params)).label() for s in seeds]


def test_search_marks_a_wrong_kernel_failed_and_never_caches_it(run_cli, root, monkeypatch):
    labels = _seed_labels()
    if len(labels) < 2:
        pytest.skip("this machine has a single seed configuration")
    bad = labels[0]   # the first candidate of the search
    monkeypatch.setenv(ENV_TEST_FAULT, f"wrong:{bad}")
    result = run_cli("search", *search_args(*SHAPE, "--trials", "2"))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    trials = load_trials(storage_url(root), default_study(*SHAPE))
    S = optuna.trial.TrialState
    assert [t.state for t in trials] == [S.FAIL, S.COMPLETE]
    assert KernelParams.from_dict(trials[0].user_attrs["kernel"]).label() == bad
    assert trials[0].user_attrs["failure"].startswith("wrong result")
    assert doc["run"]["failed"] == 1 and doc["best"]["label"] != bad
    assert all(f["label"] != bad for f in doc["finalists"])
    entry = TuningCache(root).get(fingerprint_id(), Problem(*SHAPE, "float32", 1))
    assert entry is not None and KernelParams.from_dict(entry.params).label() != bad


def test_import_and_matmul_never_run_a_wrong_kernel(run_cli, root, tmp_path, monkeypatch):
    bad = KernelParams.from_dict(dict(KernelParams().to_dict(), MR=4, NR=24, MC=256, NC=8184,
                                      parallel="m"))
    m, n, k = 44, 44, 44
    problem = Problem(m, n, k, "float32", 1)
    doc = build_document([make_entry(OTHER_ID, m, n, k, **bad.to_dict())],
                         dict(fingerprint(), id=OTHER_ID))
    path = tmp_path / "other-machine.json"
    path.write_text(json.dumps(doc))
    store = TuningCache(root)

    refused = run_cli("import", str(path))
    assert refused.exit_code == 1 and "another machine" in refused.stderr
    assert not store.path.exists()
    forced = run_cli("import", str(path), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert store.get(fingerprint_id(), problem).verified is False

    monkeypatch.setenv(ENV_TEST_FAULT, f"wrong:{bad.label()}")
    rng = np.random.default_rng(9)
    A = rng.standard_normal((m, k)).astype("f4")
    B = rng.standard_normal((k, n)).astype("f4")
    with pytest.warns(UserWarning, match=f"{m}x{n}x{k} float32 1t failed verification"):
        C = gemmtune.matmul(A, B, threads=1, cache_dir=root)
    assert check(C, A, B).status == "PASS"   # computed by the seed, not the planted kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # rejected once, skipped silently afterwards
        assert gemmtune.best_config(m, n, k, threads=1, cache_dir=root)["source"] == "default"
        C = gemmtune.matmul(A, B, threads=1, cache_dir=root)
    assert check(C, A, B).status == "PASS"
    assert store.get(fingerprint_id(), problem).verified is False   # never marked good
