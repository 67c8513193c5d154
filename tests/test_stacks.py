"""numpy.matmul's shape rules: vectors, stacks, broadcasting, out=, errors; and the dispatch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gemmtune
from gemmtune import stacks
from gemmtune.kernels.reference import check
from gemmtune.stacks import matmul_nd, stack_shape, stacked_problem

from tests.conftest import examples
from .kernels.test_batched import BATCHED


@pytest.fixture(autouse=True, scope="module")
def every_thread_works():
    """Tests use small stacks; let them run on every thread they ask for (2: the pool split)."""
    before = stacks.MIN_FLOPS_PER_THREAD
    stacks.MIN_FLOPS_PER_THREAD = 1
    yield
    stacks.MIN_FLOPS_PER_THREAD = before


def fixed_params(m, n, k, batch, dtype, threads):
    """Always the first test set of the dtype: every example reuses one compiled kernel."""
    return BATCHED[dtype][0]


def operand(rng, shape, dtype, layout):
    """An array of ``shape`` in one of the layouts users pass."""
    if layout == "T" and len(shape) >= 2:
        base = rng.standard_normal(shape[:-2] + (shape[-1], shape[-2])).astype(dtype)
        return np.swapaxes(base, -1, -2)
    if layout == "N":
        # Negative and non-unit strides along every axis.
        big = rng.standard_normal(tuple(2 * s for s in shape)).astype(dtype)
        return big[tuple(slice(None, None, -2) for _ in shape)]
    if layout == "F":
        return np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    return rng.standard_normal(shape).astype(dtype)


def check_matmul(C, A, B, alpha=1.0, beta=0.0, C0=None):
    """C against alpha * A @ B + beta * C0 in float64, product by product (residual check)."""
    want = np.matmul(A.astype(np.float64), B.astype(np.float64))
    assert C.shape == want.shape, f"shape {C.shape}, numpy gives {want.shape}"
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    C2 = np.expand_dims(C, -1) if B.ndim == 1 else C
    C2 = np.expand_dims(C2, -2) if A.ndim == 1 else C2
    lead = C2.shape[:-2]
    m, n = C2.shape[-2:]
    k = A2.shape[-1]
    As = np.broadcast_to(A2, lead + (m, k)).reshape(-1, m, k)
    Bs = np.broadcast_to(B2, lead + (k, n)).reshape(-1, k, n)
    Cs = C2.reshape(-1, m, n)
    C0s = None if C0 is None else np.reshape(C0, C2.shape).reshape(-1, m, n)
    for i in range(Cs.shape[0]):
        v = check(Cs[i], As[i], Bs[i], alpha, beta, None if C0s is None else C0s[i])
        assert v.ok, f"product {i}: {v.reason}"


@st.composite
def stacked_shapes(draw):
    """Shapes of A and B that broadcast: leading dims of 1 and n, either side 1-D or not."""
    batch = draw(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=0, max_size=3))
    sizes = st.sampled_from([1, 2, 3, 5, 17, 33])
    m, n, k = draw(sizes), draw(sizes), draw(sizes)

    def lead():
        dims = [1 if draw(st.booleans()) else d for d in batch]
        return tuple(dims[draw(st.integers(0, len(dims))):])   # drop some leading dims

    a_vec, b_vec = draw(st.booleans()), draw(st.booleans())
    if a_vec and b_vec:
        b_vec = False
    a_shape = (k,) if a_vec else lead() + (m, k)
    b_shape = (k,) if b_vec else lead() + (k, n)
    return a_shape, b_shape


@settings(max_examples=examples(60), deadline=None)
@given(shapes=stacked_shapes(), dtype=st.sampled_from(["float32", "float64"]),
       a_layout=st.sampled_from("CTNF"), b_layout=st.sampled_from("CTNF"),
       out_mode=st.sampled_from(["none", "fresh", "strided"]),
       alpha=st.sampled_from([1.0, -0.5]), beta=st.sampled_from([0.0, 1.5]),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1))
def test_stacks_match_numpy(shapes, dtype, a_layout, b_layout, out_mode, alpha, beta, threads, seed):
    rng = np.random.default_rng(seed)
    A = operand(rng, shapes[0], dtype, a_layout)
    B = operand(rng, shapes[1], dtype, b_layout)
    want_shape = np.matmul(A, B).shape
    if out_mode == "none":
        C = matmul_nd(A, B, alpha=alpha, beta=beta, threads=threads, params_for=fixed_params)
        check_matmul(C, A, B, alpha)
        return
    C0 = operand(rng, want_shape, dtype, "C" if out_mode == "fresh" else "N")
    out = C0.copy() if out_mode == "fresh" else operand(rng, want_shape, dtype, "N")
    out[...] = C0
    C = matmul_nd(A, B, out, alpha=alpha, beta=beta, threads=threads, params_for=fixed_params)
    assert C is out
    check_matmul(C, A, B, alpha, beta, C0)


@pytest.mark.parametrize("which", ["A", "B", "both"])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_out_aliasing_an_input(which, beta):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 9, 9)).astype("float32")
    Y = rng.standard_normal((3, 9, 9)).astype("float32")
    A, B = (X, Y) if which == "A" else (Y, X) if which == "B" else (X, X)
    A0, B0, C0 = A.copy(), B.copy(), X.copy()
    matmul_nd(A, B, X, alpha=1.0, beta=beta, threads=2, params_for=fixed_params)
    check_matmul(X, A0, B0, 1.0, beta, C0)


def test_out_aliasing_a_vector_operand():
    """GEMV into its own vector, on either side: y = M @ y and y = y @ M."""
    rng = np.random.default_rng(6)
    M = rng.standard_normal((11, 11))
    y0 = rng.standard_normal(11)
    y = y0.copy()
    matmul_nd(M, y, y, threads=1)
    check_matmul(y, M, y0)
    y = y0.copy()
    matmul_nd(y, M, y, threads=2)
    check_matmul(y, y0, M)


@pytest.mark.parametrize("a_shape,b_shape", [
    ((0, 4, 3), (3, 5)), ((2, 0, 3), (2, 3, 5)), ((2, 4, 0), (0, 5)), ((4, 3), (2, 0, 3, 5)),
    ((0,), (0,)), ((3, 0), (0,)), ((0,), (2, 0, 6)), ((1, 0, 2, 3), (4, 1, 3, 2)),
])
def test_zero_sizes_like_numpy(a_shape, b_shape):
    A = np.ones(a_shape, dtype="float32")
    B = np.ones(b_shape, dtype="float32")
    want = np.matmul(A, B)
    C = matmul_nd(A, B, threads=1, params_for=fixed_params)
    assert C.shape == want.shape and C.dtype == want.dtype
    assert np.array_equal(C, want)
    if C.size:
        out = np.full(want.shape, 2.0, dtype="float32")
        matmul_nd(A, B, out, beta=3.0, threads=1, params_for=fixed_params)
        assert np.array_equal(out, np.full(want.shape, 6.0))


@pytest.mark.parametrize("a_shape,b_shape,match", [
    ((), (3,), "0-d"),
    ((3,), (), "0-d"),
    ((2, 3), (4, 5), "last dimension has size 3 but B's second-to-last dimension has size 4"),
    ((3,), (4,), "A's only dimension has size 3 but B's only dimension has size 4"),
    ((2, 3), (4,), "B's only dimension"),
    ((2, 4, 3), (3, 3, 5), "do not broadcast"),
    ((2, 1, 4, 3), (5, 3, 3, 5), "do not broadcast"),
])
def test_misaligned_shapes_raise_one_value_error_like_numpy(a_shape, b_shape, match):
    A = np.ones(a_shape, dtype="float32")
    B = np.ones(b_shape, dtype="float32")
    with pytest.raises(ValueError):
        np.matmul(A, B)
    with pytest.raises(ValueError, match=match) as err:
        matmul_nd(A, B, threads=1)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_bad_out_dtype_and_operands():
    A = np.ones((2, 3, 4), dtype="float32")
    B = np.ones((4, 5), dtype="float32")
    with pytest.raises(ValueError, match=r"out has shape \(3, 5\), expected \(2, 3, 5\)"):
        matmul_nd(A, B, np.empty((3, 5), dtype="float32"))
    with pytest.raises(TypeError, match="out has dtype float64"):
        matmul_nd(A, B, np.empty((2, 3, 5)))
    ro = np.empty((2, 3, 5), dtype="float32")
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        matmul_nd(A, B, ro)
    with pytest.raises(TypeError, match="different dtypes"):
        matmul_nd(A, B.astype("float64"))
    with pytest.raises(TypeError, match="does not multiply int64"):
        matmul_nd(A.astype("int64"), B.astype("int64"))
    with pytest.raises(TypeError, match="numpy array"):
        matmul_nd([[1.0]], B)
    with pytest.raises(TypeError, match="alpha"):
        matmul_nd(A, B, alpha="2")
    with pytest.raises(ValueError, match="threads"):
        matmul_nd(A, B, threads=0)


def test_two_vectors_give_a_scalar_like_numpy():
    x = np.arange(5, dtype="float64")
    r = matmul_nd(x, x, threads=1)
    assert type(r) is type(np.matmul(x, x)) and r == 30.0
    out = np.zeros((), dtype="float64")
    assert matmul_nd(x, x, out, threads=1) is out and out == 30.0


def test_stacked_problem_and_shape():
    f = np.float32
    assert stacked_problem(np.ones((96, 128, 64), f), np.ones((96, 64, 128), f)) == (96, 128, 128, 64)
    assert stacked_problem(np.ones((2, 1, 5, 3), f), np.ones((4, 3, 7), f)) == (8, 5, 7, 3)
    assert stacked_problem(np.ones(3, f), np.ones((3, 7), f)) == (1, 1, 7, 3)
    assert stacked_problem(np.ones((6, 3), f), np.ones(3, f)) == (1, 6, 1, 3)
    assert stacked_problem(np.ones(3, f), np.ones(3, f)) == (1, 1, 1, 3)
    assert stacked_problem(np.ones((0, 2, 3), f), np.ones((3, 4), f)) == (0, 2, 4, 3)
    s = stack_shape(np.ones((4, 2, 3), f), np.ones(3, f))
    assert s.out_shape == (4, 2) and s.batch == 4


def test_operand_dtypes_are_the_dtype_table():
    """Every dtype of gemmtune/dtypes.py is recognised from its operands; nothing else is."""
    from gemmtune import dtypes

    for d in dtypes.DTYPES.values():
        assert stacks.operand_dtype(np.ones(1, d.a), np.ones(1, d.b)) is d
    with pytest.raises(TypeError, match=r"different dtypes \(float32 and int8\)"):
        stacks.operand_dtype(np.ones(1, "float32"), np.ones(1, "int8"))
    with pytest.raises(TypeError, match="it multiplies float32, float64, int8, int8 x uint8"):
        stacks.operand_dtype(np.ones(1, "int16"), np.ones(1, "int16"))


@st.composite
def integer_stacks(draw):
    """Small stacks (or vectors) of an 8-bit pair with values over the whole range."""
    from gemmtune.dtypes import INT_DTYPES, spec

    a_shape, b_shape = draw(stacked_shapes())
    d = spec(draw(st.sampled_from(INT_DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.integers(np.iinfo(d.a).min, np.iinfo(d.a).max + 1, a_shape).astype(d.a)
    B = rng.integers(np.iinfo(d.b).min, np.iinfo(d.b).max + 1, b_shape).astype(d.b)
    if draw(st.booleans()) and B.ndim >= 2:
        B = np.swapaxes(np.ascontiguousarray(np.swapaxes(B, -1, -2)), -1, -2)  # a transposed B
    return A, B


@settings(max_examples=12, deadline=None)
@given(operands=integer_stacks(), beta=st.sampled_from([0, 1]), threads=st.sampled_from([1, 2]))
def test_integer_stacks_are_exact(compiled_root, operands, beta, threads):
    """uint8/int8 stacks and vectors give int32 equal to the int64 product, beta 0 or 1."""
    A, B = operands
    want = np.matmul(A.astype(np.int64), B.astype(np.int64))
    C0 = np.full(want.shape, -7, dtype=np.int32)
    out = C0.copy()
    C = gemmtune.matmul(A, B, out, beta=beta, threads=threads, cache_dir=compiled_root)
    assert C is out and C.dtype == np.int32
    assert np.array_equal(C, want + beta * C0.astype(np.int64))
    fresh = gemmtune.matmul(A, B, threads=threads, cache_dir=compiled_root)
    assert np.asarray(fresh).dtype == np.int32 and np.array_equal(fresh, want)


def test_integer_stacks_refuse_what_2d_integer_products_refuse(compiled_root):
    A = np.ones((2, 3, 4), np.uint8)
    B = np.ones((4, 5), np.int8)
    out = np.full((2, 3, 5), 9, np.int32)
    with pytest.raises(ValueError, match="alpha must be 1"):
        matmul_nd(A, B, out, alpha=2, cache_dir=compiled_root)
    with pytest.raises(ValueError, match="beta must be 0 or 1"):
        matmul_nd(A, B, out, beta=0.5, cache_dir=compiled_root)
    with pytest.raises(TypeError, match="out has dtype float32, expected int32"):
        matmul_nd(A, B, np.empty((2, 3, 5), np.float32), cache_dir=compiled_root)
    with pytest.raises(TypeError, match="a_zero_point applies only to integer products"):
        matmul_nd(A.astype("float32"), B.astype("float32"), a_zero_point=1)
    assert (out == 9).all()   # nothing was written
    # An out= whose leading dimensions no reshape can merge (swapped), beta 1.
    big = np.full((2, 2, 3, 5), 9, np.int32)
    big[1] = 1
    gemmtune.matmul(np.ones((2, 2, 3, 4), np.uint8), B, big.transpose(1, 0, 2, 3), beta=1,
                    threads=1, cache_dir=compiled_root)
    assert (big[0] == 9 + 4).all() and (big[1] == 1 + 4).all()
    # A zero point applies to every product, as it does to a 2-D product.
    C = gemmtune.matmul(A, B, a_zero_point=3, b_zero_point=-2, threads=1, cache_dir=compiled_root)
    assert (C == (1 - 3) * (1 + 2) * 4).all()


# -- 2-D products with M or N = 1: the GEMV route ---------------------------------------------

def _gemv_calls(monkeypatch):
    """The GEMV forms stacks.py runs from now on (through gemv, or launch without its checks)."""
    calls = []
    for name in ("gemv", "launch"):
        def spy(*args, real=getattr(stacks, name)):
            calls.append(args[-1])
            return real(*args)

        monkeypatch.setattr(stacks, name, spy)
    return calls


@settings(max_examples=30, deadline=None)
@given(m_or_n=st.sampled_from(["m", "n", "both"]), size=st.sampled_from([1, 2, 17, 67]),
       k=st.sampled_from([1, 3, 33]), dtype=st.sampled_from(["float32", "float64"]),
       a_layout=st.sampled_from("CTNF"), b_layout=st.sampled_from("CTNF"),
       out_mode=st.sampled_from(["none", "fresh", "strided"]), alpha=st.sampled_from([1.0, -0.5]),
       beta=st.sampled_from([0.0, 1.5]), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**32 - 1))
def test_2d_gemv_matches_numpy(m_or_n, size, k, dtype, a_layout,
                               b_layout, out_mode, alpha, beta, threads, seed):
    rng = np.random.default_rng(seed)
    m = 1 if m_or_n in ("m", "both") else size
    n = 1 if m_or_n in ("n", "both") else size
    A = operand(rng, (m, k), dtype, a_layout)
    B = operand(rng, (k, n), dtype, b_layout)
    # What matmul runs for 2-D operands it routes (large ones: test_2d_gemv_route_...).
    if out_mode == "none":
        C = stacks.gemv_2d(A, B, alpha=alpha, beta=beta, threads=threads)
        check_matmul(C, A, B, alpha)
        return
    C0 = operand(rng, (m, n), dtype, "C")
    out = C0.copy() if out_mode == "fresh" else operand(rng, (m, n), dtype, "N")
    out[...] = C0
    C = stacks.gemv_2d(A, B, out, alpha=alpha, beta=beta, threads=threads)
    assert C is out
    check_matmul(C, A, B, alpha, beta, C0)


def test_2d_gemv_route_runs_the_vector_kernel_and_says_so(compiled_root, monkeypatch):
    """(M, K) @ (K, 1) and (1, K) @ (K, N) run what the 1-D calls run, bit for bit, where
    the GEMV pays; smaller ones keep the blocked GEMM, and best_config says which."""
    rng = np.random.default_rng(10)
    A = rng.standard_normal((160, 103)).astype("float32")     # 16480 elements: A @ x routed
    x = rng.standard_normal(103).astype("float32")
    W = rng.standard_normal((1100, 2000)).astype("float32")   # 2 * 1100 * 2000 > SMALL_FLOPS
    y = rng.standard_normal(1100).astype("float32")
    calls = _gemv_calls(monkeypatch)
    assert np.array_equal(gemmtune.matmul(A, x[:, None], threads=1, cache_dir=compiled_root)[:, 0],
                          gemmtune.matmul(A, x, threads=1, cache_dir=compiled_root))
    assert np.array_equal(gemmtune.matmul(y[None, :], W, threads=1, cache_dir=compiled_root)[0],
                          gemmtune.matmul(y, W, threads=1, cache_dir=compiled_root))
    assert calls == ["dot", "dot", "axpy", "axpy"]
    # A repeated call takes matmul's kept plan: the GEMV again, and no GEMM is ever compiled.
    gemmtune.matmul(A, x[:, None], threads=1, cache_dir=compiled_root)
    assert calls[-1] == "dot" and len(calls) == 5
    from gemmtune import api
    from gemmtune.problem import Problem

    assert api.choose(Problem(160, 1, 103, "float32", 1), compiled_root)._kernel is None
    cfg = lambda m, n, k, dtype="float32": gemmtune.best_config(  # noqa: E731
        m, n, k, dtype, threads=1, cache_dir=compiled_root)["kernel"]
    assert [cfg(160, 1, 103), cfg(1, 2000, 1100, "float64"), cfg(1, 1, 1 << 14)] == ["gemv"] * 3
    assert [cfg(64, 1, 64), cfg(1, 160, 103), cfg(2, 37, 29), cfg(1, 2000, 1100, "u8s8")] == ["gemm"] * 4
    # Not routed: small, two rows, integers, misaligned shapes (the 2-D path says what is wrong).
    assert stacks.gemv_route(A[:64, :64], x[:64, None]) is None
    assert stacks.gemv_route(A[:2], A) is None
    assert stacks.gemv_route(np.ones((1, 4096), np.uint8), np.ones((4096, 4096), np.int8)) is None
    with pytest.raises(ValueError, match="A has 103 columns but B has 30 rows"):
        gemmtune.matmul(A, np.ones((30, 1), "float32"), cache_dir=compiled_root)


def test_2d_gemv_keeps_matmuls_checks_and_edges():
    """What gemv_2d does where matmul does something of its own: errors, empty sizes, aliasing."""
    gemv_2d = stacks.gemv_2d
    A = np.ones((1, 5), "float32")
    B = np.ones((5, 4), "float32")
    with pytest.raises(ValueError, match=r"out has shape \(4, 1\), expected \(1, 4\)"):
        gemv_2d(A, B, np.empty((4, 1), "float32"))
    with pytest.raises(TypeError, match="alpha must be a real number"):
        gemv_2d(A, B, alpha="2")
    with pytest.raises(ValueError, match="threads"):
        gemv_2d(A, B, threads=10**6)
    out = np.full((1, 4), 2.0, "float32")
    gemv_2d(np.ones((1, 0), "float32"), np.ones((0, 4), "float32"), out, beta=3.0)
    assert (out == 6.0).all()
    assert gemv_2d(np.ones((0, 5), "float32"), np.ones((5, 1), "float32")).shape == (0, 1)
    # Read-only operands, and NaN/Inf as numpy with alpha 0 (0 * (A @ x) + beta * y).
    R = np.ones((6, 5), "float64")
    R[2, 1] = np.inf
    R.flags.writeable = False
    x = np.ones((5, 1))
    x[3] = np.nan
    got = gemv_2d(R, x, np.ones((6, 1)), alpha=0.0, beta=2.0)
    assert np.isnan(got).all()
    x[3] = 0.0
    got = gemv_2d(R, x, np.ones((6, 1)), alpha=0.0, beta=2.0)
    assert np.isnan(got[2, 0]) and (np.delete(got, 2) == 2.0).all()
    # out aliasing the vector operand: y = y @ M through a temporary.
    M = np.arange(16, dtype="float64").reshape(4, 4)
    y = np.arange(4, dtype="float64")[None, :].copy()
    want = y @ M
    gemv_2d(y, M, y)
    assert np.allclose(y, want)


def test_matmul_dispatches_stacks_and_keeps_2d_as_before(warm_cache_root, monkeypatch):
    cache_root = warm_cache_root
    rng = np.random.default_rng(8)
    A = rng.standard_normal((4, 16, 16)).astype("float32")
    B = rng.standard_normal((16, 16)).astype("float32")
    C = gemmtune.matmul(A, B, threads=1, cache_dir=cache_root)
    check_matmul(C, A, B)
    x = rng.standard_normal(16).astype("float32")
    check_matmul(gemmtune.matmul(x, B, threads=1, cache_dir=cache_root), x, B)

    # 2-D operands never reach the stacked path, and give what the 2-D kernel gives.
    from gemmtune import api
    from gemmtune.problem import Problem

    def refuse(*args, **kwargs):
        raise AssertionError("2-D operands went to matmul_nd")

    monkeypatch.setattr(stacks, "matmul_nd", refuse)
    C2 = gemmtune.matmul(A[1], B, threads=1, cache_dir=cache_root)
    kernel = api.choose(Problem(16, 16, 16, "float32", 1), cache_root).kernel
    assert np.array_equal(C2, kernel(A[1], B, threads=1))
    check_matmul(C2, A[1], B)


@pytest.mark.parametrize("suite", ["attention", "gemv"])
def test_shipped_stack_suites_carry_a_batch(suite):
    """Each entry is today's {"name", "m", "n", "k"} plus "batch" (default 1)."""
    import json
    from importlib import resources

    from gemmtune.shapes import load_shapes

    doc = json.loads(resources.files("gemmtune.configs").joinpath("shapes", f"{suite}.json").read_text())
    assert load_shapes(suite)[0] == suite
    for s in doc["shapes"]:
        assert set(s) <= {"name", "m", "n", "k", "batch"}
        assert isinstance(s.get("batch", 1), int) and s.get("batch", 1) >= 1
    if suite == "gemv":
        assert all(s["m"] == 1 or s["n"] == 1 for s in doc["shapes"])
    else:
        assert {(s["batch"], s["m"], s["n"], s["k"]) for s in doc["shapes"]} >= {
            (96, 128, 128, 64), (4096, 16, 16, 16), (1024, 32, 32, 32), (256, 64, 64, 64)}


@pytest.mark.parametrize("b_shape", [(5, 7, 6), (7,)])
def test_nan_and_inf_propagate_as_in_numpy(b_shape):
    """A NaN or Inf in an operand lands where numpy puts it (GEMM and GEMV paths)."""
    rng = np.random.default_rng(9)
    A = rng.standard_normal((5, 4, 7))
    B = rng.standard_normal(b_shape)
    A[1, 2, 3] = np.nan
    A[3, 0, 5] = np.inf
    C = matmul_nd(A, B, threads=2, params_for=fixed_params)
    want = np.matmul(A, B)
    assert np.array_equal(np.isnan(C), np.isnan(want))
    assert np.array_equal(np.isinf(C), np.isinf(want))
    check_matmul(C, A, B)


def test_a_small_stack_runs_on_fewer_threads(monkeypatch):
    seen = []

    def params_for(m, n, k, batch, dtype, threads):
        seen.append(threads)
        return BATCHED[dtype][0]

    monkeypatch.setattr(stacks, "MIN_FLOPS_PER_THREAD", 2_000_000)
    A = np.ones((4, 16, 16), dtype="float32")
    matmul_nd(A, A, threads=2, params_for=params_for)            # 32 kflop: one thread
    big = np.ones((64, 32, 32), dtype="float32")
    matmul_nd(big, big, threads=2, params_for=params_for)        # 4.2 Mflop: two
    assert seen == [1, 2]


def test_stacked_problem_does_not_import_numba():
    """The CLI and the cache can ask for a stack's problem without numba's start-up."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from gemmtune.stacks import stacked_problem; "
            "assert stacked_problem(np.ones((2, 3, 4)), np.ones(4)) == (2, 3, 1, 4); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_stack_follows_the_blas_thread_limit_like_a_2d_product(monkeypatch):
    from gemmtune import stacks, threads

    monkeypatch.setattr(threads, "default_threads", lambda: 1)
    assert stacks._check_threads(None) == 1
