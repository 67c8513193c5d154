"""gemmtune.warmup: the kernels of a list of shapes ready before the first matmul."""

from __future__ import annotations

import numpy as np
import pytest

import gemmtune
from gemmtune import api
from gemmtune.cache import TuningCache
from gemmtune.kernels.reference import check
from gemmtune.problem import Problem


@pytest.fixture
def root(compiled_root):
    TuningCache(compiled_root).clear(None)
    return compiled_root


def test_warmup_compiles_what_matmul_then_runs(root):
    shapes = [(13, 17, 19), (1, 1, 1), (13, 17, 19)]
    out = gemmtune.warmup(shapes, dtype="float32", threads=1, cache_dir=root)
    assert [r["shape"] for r in out] == ["13x17x19", "1x1x1", "13x17x19"]
    # The untuned default is cut to each product: the same shape, the same configuration.
    assert all(r["source"] == "default" for r in out) and out[0]["params"] == out[2]["params"]
    choice = api.choose(Problem(13, 17, 19, "float32", 1), root)
    assert getattr(choice.kernel.module, "compiled", False)   # ready: the call compiles nothing
    rng = np.random.default_rng(1)
    A = rng.standard_normal((13, 19)).astype("f4")
    B = rng.standard_normal((19, 17)).astype("f4")
    C = np.full((13, 17), np.nan, dtype="f4")
    gemmtune.matmul(A, B, out=C, threads=1, cache_dir=root)
    assert check(C, A, B).status == "PASS"


def test_warmup_readies_the_gemv_for_shapes_with_m_or_n_one(root):
    from gemmtune.kernels import gemv

    gemv._compiled.cache_clear()
    out = gemmtune.warmup([(1, 2048, 1100), (128, 1, 128), (64, 64, 64)], threads=1,
                          cache_dir=root, run=True)
    assert [r["kernel"] for r in out] == ["gemv", "gemv", "gemm"]
    assert gemv._compiled.cache_info().currsize == 2   # the dot and axpy forms, float32
    assert out[1] == {**gemmtune.best_config(128, 1, 128, threads=1, cache_dir=root),
                      "shape": "128x1x128"}


def test_warmup_takes_a_suite_name(root):
    out = gemmtune.warmup("mlp", threads=1, cache_dir=root, run=False)
    assert [r["shape"] for r in out] == ["fc1", "fc2", "fc3"]


@pytest.mark.parametrize("shapes, error, words", [
    ([(8, 8)], ValueError, "must be (m, n, k)"),
    ([(8, 0, 8)], ValueError, "integers >= 1"),
    (5, TypeError, "tuples or a suite name"),
    ("no-such-suite", ValueError, "no shape file"),
])
def test_bad_shapes(root, shapes, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        gemmtune.warmup(shapes, cache_dir=root)


def test_bad_dtype_and_threads(root):
    with pytest.raises(ValueError, match="unsupported dtype"):
        gemmtune.warmup([(8, 8, 8)], dtype="float16", cache_dir=root)
    with pytest.raises(ValueError, match="threads must be"):
        gemmtune.warmup([(8, 8, 8)], threads=0, cache_dir=root)


def test_public_names():
    from gemmtune.preload import warmup

    assert gemmtune.warmup is warmup
    assert gemmtune.tune is api.tune
    assert {"matmul", "best_config", "tune", "warmup"} <= set(gemmtune.__all__)


def test_tune_from_python_then_warm_up_the_tuned_kernel(tmp_path, tmp_path_factory):
    """The whole Python story: gemmtune.tune caches a winner, best_config reports it as exact,
    warmup readies it, matmul runs it."""
    from tests.search.helpers import cache_with_shared_kernels, shared_kernel_dir

    root = cache_with_shared_kernels(tmp_path / "cache", shared_kernel_dir(tmp_path_factory))
    doc = gemmtune.tune(64, 64, 64, threads=1, trials=1, cache_dir=root, sampler_seed=0)
    assert doc["cached"] and doc["best"] is not None and doc["trials"] == 1
    config = gemmtune.best_config(64, 64, 64, threads=1, cache_dir=root)
    assert config["source"] == "exact" and config["params"] == doc["best"]["params"]
    (ready,) = gemmtune.warmup([(64, 64, 64)], threads=1, cache_dir=root)
    assert ready["source"] == "exact" and ready["params"] == doc["best"]["params"]
    rng = np.random.default_rng(2)
    A = rng.standard_normal((64, 64)).astype("f4")
    B = rng.standard_normal((64, 64)).astype("f4")
    assert check(gemmtune.matmul(A, B, threads=1, cache_dir=root), A, B).status == "PASS"
