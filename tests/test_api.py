"""gemmtune.matmul and best_config: exact, nearest and seed configurations are all exact."""

from __future__ import annotations

import numpy as np
import pytest

import gemmtune
from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.kernels.reference import check

from .factories import make_entry
from .kernels.conftest import FRINGE_SETS

# A tuned configuration for the tests: one of the kernel suite's sets, so it is compiled once.
TUNED = FRINGE_SETS["float32"][0]


@pytest.fixture
def root(compiled_root):
    """The session's compiled kernels, with an empty tunings file for each test."""
    store = TuningCache(compiled_root)
    store.clear(None)
    yield compiled_root
    store.clear(None)


def _put(root, m, n, k, threads=1, verified=True, **params):
    TuningCache(root).put(make_entry(fingerprint_id(), m, n, k, "float32", threads,
                                     verified=verified, **{**TUNED.to_dict(), **params}))


def _product_ok(root, m, n, k, threads=1, **kw):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, k)).astype("f4")
    B = rng.standard_normal((k, n)).astype("f4")
    C = gemmtune.matmul(A, B, threads=threads, cache_dir=root, **kw)
    return check(C, A, B).status == "PASS"


def test_exact_config_used_and_exact(root):
    _put(root, 37, 41, 43)
    cfg = gemmtune.best_config(37, 41, 43, threads=1, cache_dir=root)
    assert cfg["source"] == "exact" and cfg["params"] == TUNED.to_dict() and cfg["distance"] == 0
    assert _product_ok(root, 37, 41, 43)


def test_nearest_config_by_log_distance(root):
    _put(root, 64, 64, 64)
    _put(root, 1024, 1024, 1024, MC=20, MR=5)
    cfg = gemmtune.best_config(70, 60, 50, threads=1, cache_dir=root)
    assert cfg["source"] == "nearest" and cfg["problem"]["m"] == 64
    assert cfg["distance"] == pytest.approx(np.linalg.norm(np.log([70 / 64, 60 / 64, 50 / 64])))
    assert _product_ok(root, 70, 60, 50)


def test_other_threads_or_dtype_not_used(root):
    _put(root, 64, 64, 64, threads=2)
    assert gemmtune.best_config(64, 64, 64, threads=1, cache_dir=root)["source"] == "default"
    assert gemmtune.best_config(64, 64, 64, dtype="float64", threads=2, cache_dir=root)["source"] == "default"


def test_seed_fallback_is_exact(root):
    assert gemmtune.best_config(33, 35, 31, threads=1, cache_dir=root)["source"] == "default"
    assert _product_ok(root, 33, 35, 31)


def test_alpha_beta_in_place(root):
    _put(root, 30, 20, 10)
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 10)).astype("f4")
    B = rng.standard_normal((10, 20)).astype("f4")
    C = np.asfortranarray(rng.standard_normal((30, 20)).astype("f4"))
    C0 = C.copy()
    out = gemmtune.matmul(A, B, out=C, alpha=2.0, beta=1.0, threads=1, cache_dir=root)
    assert out is C
    assert check(C, A, B, 2.0, 1.0, C0).status == "PASS"


def test_unverified_import_checked_before_use(root):
    _put(root, 40, 40, 40, verified=False)
    cfg = gemmtune.best_config(40, 40, 40, threads=1, cache_dir=root)
    assert cfg["source"] == "exact"
    assert TuningCache(root).get(fingerprint_id(), make_entry(fingerprint_id(), 40, 40, 40).problem).verified


def test_bad_input_errors(root):
    with pytest.raises(ValueError, match="do not align"):
        gemmtune.matmul(np.ones((2, 3), "f4"), np.ones((2, 3), "f4"), cache_dir=root)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        gemmtune.matmul(np.ones((2, 3), "f4"), np.ones((3, 3), "f4"), threads=0, cache_dir=root)
    with pytest.raises(TypeError, match="dtype int64"):
        gemmtune.matmul(np.ones((2, 3), "i8"), np.ones((3, 3), "i8"), cache_dir=root)


def test_the_library_path_imports_no_command_line_libraries():
    """matmul's modules load without click, rich or optuna (they cost start-up time)."""
    import subprocess
    import sys

    code = ("import sys, gemmtune.api, gemmtune.cache, gemmtune.errors, gemmtune.kernels.gemm; "
            "print(sorted(m for m in ('click', 'rich', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_small_untuned_product_runs_on_one_thread_and_says_why(root):
    cfg = gemmtune.best_config(64, 64, 64, threads=2, cache_dir=root)
    assert cfg["threads"] == 1 and "splitting" in cfg["threads_reason"]
    big = gemmtune.best_config(512, 512, 512, threads=2, cache_dir=root)
    assert big["threads"] == 2 and "threads_reason" not in big
    # Its own 2-thread tuning measured that splitting pays: it is trusted.
    _put(root, 64, 64, 64, threads=2)
    tuned = gemmtune.best_config(64, 64, 64, threads=2, cache_dir=root)
    assert tuned["source"] == "exact" and tuned["threads"] == 2
    assert _product_ok(root, 64, 64, 64, threads=2)


def test_repeated_calls_take_the_kept_plan_and_stay_exact(root):
    """The second of two like calls runs the kept plan (the fast path); every layout, out=
    (aliasing an input too), alpha and beta still give the exact product."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((21, 21)).astype("f4")
    B = rng.standard_normal((21, 21)).astype("f4")
    for _ in range(2):
        assert check(gemmtune.matmul(A, B, threads=1, cache_dir=root), A, B).status == "PASS"
        assert check(gemmtune.matmul(A.T, B[::-1], threads=1, cache_dir=root), A.T, B[::-1]).status == "PASS"
        C = rng.standard_normal((21, 21)).astype("f4")
        C0 = C.copy()
        assert gemmtune.matmul(A, B, out=C, alpha=2, beta=1.0, threads=1, cache_dir=root) is C
        assert check(C, A, B, 2.0, 1.0, C0).status == "PASS"
        A2, A0 = A.copy(), A.copy()
        gemmtune.matmul(A2, B, out=A2, threads=1, cache_dir=root)  # out is A: a temporary
        assert check(A2, A0, B).status == "PASS"
    from gemmtune import api

    assert api._planned(A, B, 1, root) is not None
    with pytest.raises(TypeError, match="alpha must be a real number"):
        gemmtune.matmul(A, B, alpha="2", threads=1, cache_dir=root)
    with pytest.raises(TypeError, match="beta must be a real number"):
        gemmtune.matmul(A, B, beta=None, threads=1, cache_dir=root)


def test_a_kept_plan_gives_way_to_a_new_tuning_and_to_thread_limits(root):
    from threadpoolctl import threadpool_limits

    from gemmtune import api

    A = np.ones((30, 10), "f4")
    B = np.ones((10, 20), "f4")
    gemmtune.matmul(A, B, threads=1, cache_dir=root)
    assert api._planned(A, B, 1, root).choice.info["source"] == "default"
    _put(root, 30, 20, 10)  # the tunings file changes: the next call chooses again
    assert api._planned(A, B, 1, root) is None
    assert _product_ok(root, 30, 20, 10)
    assert api._planned(A, B, 1, root).choice.info["source"] == "exact"
    # threads=None follows numpy's BLAS limit at each call, as the first call did.
    gemmtune.matmul(A, B, cache_dir=root)
    asked = api._planned(A, B, None, root).asked
    with threadpool_limits(1, user_api="blas"):
        assert api._planned(A, B, None, root) is None or asked == 1
        gemmtune.matmul(A, B, cache_dir=root)
        assert api._planned(A, B, None, root).asked == 1


def test_a_small_product_does_not_borrow_a_large_ones_blocks(root):
    _put(root, 512, 512, 512)
    small = gemmtune.best_config(64, 64, 64, threads=1, cache_dir=root)
    assert small["source"] == "default"
    assert small["params"]["pack_a"] is False and small["params"]["pack_b"] is False
    assert gemmtune.best_config(300, 300, 300, threads=1, cache_dir=root)["source"] == "nearest"
    assert _product_ok(root, 64, 64, 64)


def test_an_untuned_integer_product_splits_from_its_familys_threshold(root):
    """The VNNI/AVX2 integer family hands a band to a pool thread only from 2 * 256^3
    operations on (its split_min_flops); a float product of that size splits."""
    small = gemmtune.best_config(256, 256, 256, "u8s8", threads=2, cache_dir=root)
    if small["family"] != "numba-int8":
        pytest.skip(f"this machine runs u8s8 with {small['family']}")
    assert small["threads"] == 1 and "splitting" in small["threads_reason"]
    assert gemmtune.best_config(512, 512, 512, "u8s8", threads=2, cache_dir=root)["threads"] == 2
    assert gemmtune.best_config(256, 256, 256, threads=2, cache_dir=root)["threads"] == 2


def test_a_borrowed_prange_configuration_gives_every_thread_a_block(root):
    """1024^3's 2-thread MC would give a 256-row product one block, so one thread: the
    borrowed configuration's MC is cut to the rows per thread (and the product stays exact)."""
    from gemmtune.threads import numba_threads

    if numba_threads() < 2:
        pytest.skip("numba has fewer than 2 threads here")
    mr = TUNED.MR
    _put(root, 1024, 1024, 1024, threads=2, MC=8 * mr, parallel="ic")
    # 4 * MR rows (large enough in flops to run on both threads): MR * 2 rows per thread.
    cfg = gemmtune.best_config(4 * mr, 512, 512, threads=2, cache_dir=root)
    assert cfg["source"] == "nearest" and cfg["threads"] == 2
    assert cfg["params"]["MC"] == 2 * mr and cfg["fitted"] == f"MC {8 * mr} -> {2 * mr}"
    assert _product_ok(root, 4 * mr, 512, 512, threads=2)
    # A product with rows for every thread's block keeps the tuned MC; exact tunings are not fitted.
    assert gemmtune.best_config(64 * mr, 512, 512, threads=2, cache_dir=root)["params"]["MC"] == 8 * mr
    assert gemmtune.best_config(1024, 1024, 1024, threads=2, cache_dir=root)["params"]["MC"] == 8 * mr
