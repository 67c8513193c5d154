"""Operands numpy multiplies, gemmtune multiplies too: read-only arrays of every origin
(issue 14, item 1); scalars and cache dirs it cannot use are one ValueError (item 14)."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.kernels.reference import check


def _read_only(kind: str, rows: int, cols: int, dtype: str, tmp_path, rng) -> np.ndarray:
    """A (rows, cols) read-only operand made the way users get one."""
    data = rng.standard_normal((rows, cols)).astype(dtype)
    if kind == "flag":
        data.flags.writeable = False
        return data
    if kind == "frombuffer":
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(rows, cols)
    if kind == "memmap":
        path = tmp_path / f"op-{rows}x{cols}-{rng.integers(1 << 30)}.bin"
        data.tofile(path)
        return np.memmap(path, dtype=dtype, mode="r", shape=(rows, cols))
    if kind == "broadcast":
        return np.broadcast_to(data[:1], (rows, cols))
    if kind == "transposed":
        t = np.ascontiguousarray(data.T)
        t.flags.writeable = False
        return t.T
    raise AssertionError(kind)


KINDS = ["flag", "frombuffer", "memmap", "broadcast", "transposed"]


@pytest.mark.parametrize("dtype, index", [("float32", 0), ("float32", 2), ("float64", 1)])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 70),
       a_kind=st.sampled_from(KINDS), b_kind=st.sampled_from(KINDS + ["writeable"]),
       beta=st.sampled_from([0.0, 1.5]), seed=st.integers(0, 2**32 - 1))
def test_read_only_operands_are_multiplied(kernels, tmp_path, dtype, index, m, n, k, a_kind,
                                           b_kind, beta, seed):
    rng = np.random.default_rng(seed)
    A = _read_only(a_kind, m, k, dtype, tmp_path, rng)
    B = (rng.standard_normal((k, n)).astype(dtype) if b_kind == "writeable"
         else _read_only(b_kind, k, n, dtype, tmp_path, rng))
    assert not A.flags.writeable
    C = rng.standard_normal((m, n)).astype(dtype)
    if beta == 0.0:
        C[...] = np.nan
    before = C.copy()
    kernels(dtype, index)(A, B, C, alpha=1.0, beta=beta, threads=2)
    verdict = check(C, np.asarray(A), np.asarray(B), 1.0, beta, before)
    assert verdict.ok, verdict.reason


def test_matmul_multiplies_read_only_operands(warm_cache_root):
    import gemmtune

    A = np.arange(64, dtype=np.float32).reshape(8, 8) / 7
    A.flags.writeable = False
    got = gemmtune.matmul(A, A, cache_dir=warm_cache_root, threads=1)
    assert np.allclose(got, np.asarray(A, np.float64) @ A, rtol=1e-5)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exponent=st.integers(309, 20000), sign=st.sampled_from([1, -1]),
       name=st.sampled_from(["alpha", "beta"]))
def test_a_scalar_beyond_float64_is_one_value_error(kernels, exponent, sign, name):
    A = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=f"^{name} is beyond the float64 range"):
        kernels("float32", 0)(A, A, np.zeros((3, 3), np.float32), **{name: sign * 10**exponent})


@pytest.mark.parametrize("where", ["file", "inside a file"])
def test_a_cache_dir_that_is_a_file_is_one_value_error(tmp_path, where):
    import gemmtune

    f = tmp_path / "passwd"
    f.write_text("root:x:0:0\n")
    root = f if where == "file" else f / "sub"
    A = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=f"^cannot create the cache directory {root}: .* is not a directory"):
        gemmtune.matmul(A, A, cache_dir=root)
    with pytest.raises(ValueError, match="not a directory"):
        gemmtune.best_config(3, 3, 3, cache_dir=root)
    assert f.read_text() == "root:x:0:0\n"
