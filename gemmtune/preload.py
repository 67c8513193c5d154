"""``gemmtune.warmup`` (this module is named preload so that it does not shadow the function
on the package): decide, load or compile the kernels of a list of problems ahead of
time, so the first ``matmul`` of each shape is not the slow one."""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np


def _shapes(shapes: Any) -> list[tuple[str, int, int, int]]:
    """(name, m, n, k) from a suite name or file, or an iterable of (m, n, k)."""
    if isinstance(shapes, (str, os.PathLike)):
        from .shapes import load_shapes

        _, suite = load_shapes(os.fspath(shapes))
        return [(s.name, s.m, s.n, s.k) for s in suite]
    out = []
    try:
        items = list(shapes)
    except TypeError:
        raise TypeError(f"shapes must be (m, n, k) tuples or a suite name, got {shapes!r}.") from None
    for item in items:
        try:
            m, n, k = item
        except (TypeError, ValueError):
            raise ValueError(f"each shape must be (m, n, k), got {item!r}.") from None
        for v in (m, n, k):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"shape {item!r} has {v!r}; sizes must be integers >= 1.")
        out.append((f"{m}x{n}x{k}", int(m), int(n), int(k)))
    return out


def warmup(shapes: Iterable[tuple[int, int, int]] | str, dtype: str = "float32",
           threads: int | None = None, *, cache_dir: str | os.PathLike | None = None,
           run: bool = True) -> list[dict[str, Any]]:
    """Make the configuration ``matmul`` will run for each shape ready now.

    For each shape, decides the configuration (exact tuning, nearest, or default; verifying
    an imported one), loads its kernel from numba's disk cache or compiles it, and with
    ``run`` multiplies two tiny matrices with it, so that whatever is done on a kernel's first
    call is done here. Shapes sharing a configuration share the kernel.

    Args:
        shapes: (m, n, k) tuples, or a suite: a shipped name ("transformer") or a JSON file.
        dtype: as for ``matmul`` ("float32", "float64", or an 8-bit pair such as "u8s8").
        threads: the thread count the later calls will use (default as ``matmul``'s).
        cache_dir: the gemmtune cache dir (default: ``$GEMMTUNE_CACHE_DIR`` or the user cache).
        run: also run a tiny product with each distinct kernel.

    Returns:
        One ``best_config``-style dict per shape, in order, with ``"shape"`` (the suite's
        name for the shape, or "MxNxK") added.

    Raises:
        TypeError, ValueError: shapes, dtype or threads that cannot be used (one sentence).
    """
    from . import api, dtypes
    from .problem import Problem
    from .stacks import gemv_kernel

    name = dtypes.normalize(dtype)  # raises the sentence listing the dtypes
    t = api._check_threads(threads)
    results, ran = [], set()
    for label, m, n, k in _shapes(shapes):
        problem = Problem(m, n, k, name, t)
        choice = api.choose(problem, cache_dir)
        # M or N = 1 runs the GEMV kernel (docs/stacks.md): that is what to make ready.
        gemv = gemv_kernel(m, n, k, name)
        kernel = "gemv" if gemv else "gemm"
        if run and gemv and "gemv" not in ran:
            ran.add("gemv")
            _tiny_gemv(name)
        elif run and not gemv and id(choice.kernel) not in ran:
            ran.add(id(choice.kernel))
            _tiny_product(choice.kernel, name, t)
        results.append({"shape": label, "params": choice.params.to_dict(), **choice.info,
                        "kernel": kernel})
    return results


def _tiny_gemv(dtype: str) -> None:
    """Both GEMV forms on C-ordered operands (A @ x and x @ B) once: loaded or compiled."""
    from .stacks import gemv_2d

    gemv_2d(np.ones((3, 5), dtype), np.ones((5, 1), dtype))
    gemv_2d(np.ones((1, 5), dtype), np.ones((5, 4), dtype))


def _tiny_product(kernel: Any, dtype: str, threads: int) -> None:
    from .dtypes import spec

    d = spec(dtype)
    A = np.ones((3, 5), dtype=d.a)
    B = np.ones((5, 4), dtype=d.b)
    kernel(A, B, None, alpha=1.0, beta=0.0, threads=threads)
