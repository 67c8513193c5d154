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


def test_the_dtype_pair_is_a_seam():
    """A registered pair is looked up by the operands' dtypes, with its own kernels."""
    calls = []

    def gemm(params, root):
        def run(A3, B3, C3, ia, ib, alpha, beta, threads):
            calls.append("gemm")
            for c in range(C3.shape[0]):
                C3[c] = A3[ia[c]].astype(np.int32) @ B3[ib[c]].astype(np.int32)
        return run

    def gemv(M3, X2, Y2, im, ix, alpha, beta, threads, form):
        calls.append(form)

    pair = stacks.DtypePair(np.dtype("uint8"), np.dtype("int8"), np.dtype("int32"), "u8s8", gemm, gemv)
    stacks.register_dtype_pair(pair)
    try:
        A = np.full((2, 3, 4), 200, dtype="uint8")
        B = np.full((4, 5), -3, dtype="int8")
        C = matmul_nd(A, B, threads=1, params_for=lambda *a: BATCHED["float32"][0])
        assert C.dtype == np.int32 and (C == 200 * -3 * 4).all() and calls == ["gemm"]
    finally:
        stacks.unregister_dtype_pair("uint8", "int8")


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
