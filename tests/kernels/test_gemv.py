"""The GEMV kernels: both forms exact, batched with indices, NaN/Inf as numpy."""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.kernels import gemv as gemv_module
from gemmtune.kernels.gemv import gemv
from gemmtune.kernels.reference import check


@pytest.fixture(autouse=True)
def every_thread_works(monkeypatch):
    """Small matrices would run on one thread; let them split, so the bands are tested."""
    monkeypatch.setattr(gemv_module, "MIN_UNIT_BYTES", 1)


def _check_rows(Y2, M3, X2, im, ix, form, alpha=1.0, beta=0.0, Y0=None):
    for c in range(Y2.shape[0]):
        mat = M3[im[c]] if form == "dot" else M3[im[c]].T
        v = check(Y2[c][:, None], mat, X2[ix[c]][:, None], alpha, beta,
                  None if Y0 is None else Y0[c][:, None])
        assert v.ok, f"product {c}: {v.reason}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", ["dot", "axpy"])
@pytest.mark.parametrize("threads", [1, 2])
def test_forms_match_reference_on_fringe_sizes(dtype, form, threads):
    rng = np.random.default_rng(1)
    for batch, r, k in [(1, 1, 1), (1, 7, 1), (3, 1, 13), (2, 37, 5), (1, 5003, 3), (4, 33, 131)]:
        shape = (batch, r, k) if form == "dot" else (batch, k, r)
        M3 = rng.standard_normal(shape).astype(dtype)
        X2 = rng.standard_normal((batch, k)).astype(dtype)
        Y2 = np.full((batch, r), np.nan, dtype=dtype)
        idx = np.arange(batch, dtype=np.int64)
        gemv(M3, X2, Y2, idx, idx, 1.0, 0.0, threads, form)
        _check_rows(Y2, M3, X2, idx, idx, form)


@pytest.mark.parametrize("form", ["dot", "axpy"])
def test_strided_matrix_shared_vector_and_beta(form):
    """A non-contiguous matrix (the general variant), one vector for every product, beta."""
    rng = np.random.default_rng(2)
    batch, r, k = 3, 29, 17
    shape = (batch, r, 2 * k) if form == "dot" else (batch, k, 2 * r)
    big = rng.standard_normal(shape).astype("float32")
    M3 = big[..., ::2] if form == "dot" else big[:, :, 1::2]
    M3 = np.ascontiguousarray(M3)[::-1]          # negative batch stride, unit rows
    X2 = rng.standard_normal((1, k)).astype("float32")
    Y0 = rng.standard_normal((batch, 2 * r)).astype("float32")
    Y2 = Y0.copy()[:, ::2]                        # strided output
    im = np.arange(batch, dtype=np.int64)
    ix = np.zeros(batch, dtype=np.int64)
    gemv(M3, X2, Y2, im, ix, -2.0, 0.5, 2, form)
    _check_rows(Y2, M3, X2, im, ix, form, -2.0, 0.5, Y0[:, ::2])


@pytest.mark.parametrize("form", ["dot", "axpy"])
def test_nan_and_inf_propagate_as_in_numpy(form):
    M3 = np.ones((1, 8, 8), dtype="float64")
    X2 = np.ones((1, 8), dtype="float64")
    X2[0, 3] = np.nan
    Y2 = np.zeros((1, 8))
    idx = np.zeros(1, dtype=np.int64)
    gemv(M3, X2, Y2, idx, idx, 1.0, 0.0, 1, form)
    assert np.isnan(Y2).all()
    X2[0, 3] = np.inf
    gemv(M3, X2, Y2, idx, idx, 1.0, 0.0, 1, form)
    assert np.isposinf(Y2).all()


def test_refuses_an_unknown_form_and_a_strided_vector():
    M3 = np.ones((1, 4, 4))
    idx = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="unknown GEMV form"):
        gemv(M3, np.ones((1, 4)), np.zeros((1, 4)), idx, idx, 1.0, 0.0, 1, "outer")
    with pytest.raises(ValueError, match="C-contiguous"):
        gemv(M3, np.ones((1, 8))[:, ::2], np.zeros((1, 4)), idx, idx, 1.0, 0.0, 1, "dot")
