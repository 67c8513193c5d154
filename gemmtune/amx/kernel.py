"""Compile an AmxParams into the raw AMX GEMM core: ``raw(A, B, C, beta, threads)``.

The generated source is written into the kernel directory as a real module and imported from
there (as kernels/build.py does for the float family), so numba's on-disk cache lets a later
process load the machine code instead of compiling again; the file name carries the pair,
the parameters' key and the generator hash. numba keys its cache by CPU name and features
too, so code compiled on an AMX machine is never loaded on another CPU.

``compile_amx`` refuses to compile anything unless ``amx_available()`` is True and numba's
target has AMX (``numba_targets_amx``): compiled for a CPU without AMX the tile intrinsics
abort the process in LLVM's instruction selection, and run without the Linux permission
they kill it with SIGILL.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Any

import numpy as np

from ..kernels.cached_load import load_cached
from ..kernels.gemm import _thread_pool  # one pool, reset in a forked child
from .params import PAIR_DTYPES, AmxParams, normalize_pair
from .permission import amx_available
from .template import generate_source, generator_hash

_lock = threading.Lock()


# LLVM CPUs whose own feature set has AMX int8 (used only when NUMBA_CPU_FEATURES is set
# without saying +amx-int8 or -amx-int8).
_AMX_CPUS = ("sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d", "diamondrapids")


def numba_targets_amx() -> tuple[bool, str]:
    """Whether numba compiles for a target with AMX int8: (True, "") or (False, why not).

    numba passes the host's features to LLVM unless NUMBA_CPU_FEATURES is set (portable
    caches set it, often with NUMBA_CPU_NAME=generic). Compiled for a target without AMX,
    the tile intrinsics abort the whole process in LLVM ("Cannot select").
    """
    from numba.core import config

    if config.CPU_FEATURES is None:
        return True, ""
    flags = {f.strip() for f in str(config.CPU_FEATURES).split(",")}
    cpu = (config.CPU_NAME or "").lower()
    for feature in ("amx-tile", "amx-int8"):
        if f"-{feature}" in flags or (f"+{feature}" not in flags and cpu not in _AMX_CPUS):
            return False, (f"numba compiles for NUMBA_CPU_NAME={config.CPU_NAME!r} with "
                           f"NUMBA_CPU_FEATURES without +{feature}, which has no AMX.")
    return True, ""


def module_name(params: AmxParams, pair: str) -> str:
    return f"gemmtune_amx_{pair}_{params.key()}_{generator_hash()}"


def load_module(params: AmxParams, pair: str, root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the generated module; importing does not compile."""
    from ..kernels.build import import_generated

    pair = normalize_pair(pair)
    params.validate()
    return import_generated(module_name(params, pair), lambda: generate_source(params, pair), root)


def _signature(pair: str) -> tuple:
    from numba import types

    a, b = (getattr(types, t) for t in PAIR_DTYPES[pair])
    # Layout "A": the thread bands are views (a band of B's or C's columns is not contiguous).
    return (types.Array(a, 2, "A"), types.Array(b, 2, "A"), types.Array(types.int32, 2, "A"),
            types.int64)


def bands(size: int, parts: int, unit: int) -> list[tuple[int, int]]:
    """Split range(size) into at most ``parts`` bands whose starts are multiples of ``unit``."""
    step = -(-size // max(1, parts))
    step = -(-step // unit) * unit
    return [(lo, min(size, lo + step)) for lo in range(0, size, step)]


class AmxKernel:
    """The raw AMX core for one AmxParams and pair: ``kernel(A, B, C, beta, threads)``.

    A (M, K) and B (K, N) must be C-contiguous arrays of the pair's dtypes, C an int32 (M, N)
    array with unit stride along its rows, beta 0 or 1. C = A @ B (beta 0) or C += A @ B
    (beta 1), exactly in int32 arithmetic (a sum that overflows wraps, as int32 does).
    """

    def __init__(self, params: AmxParams, pair: str, root: str | os.PathLike | None = None):
        self.params = params.validate()
        self.pair = normalize_pair(pair)
        ok, why = amx_available()
        if ok:
            ok, why = numba_targets_amx()
        if not ok:
            raise RuntimeError(f"AMX kernels cannot run here: {why}")
        self.dtypes = tuple(np.dtype(t) for t in PAIR_DTYPES[self.pair])
        self.module = load_module(params, self.pair, root)
        self._compile()

    def _compile(self) -> None:
        gemm = self.module.gemm
        sig = _signature(self.pair)
        with _lock:
            if tuple(sig) not in gemm.overloads:
                if not load_cached(gemm, sig):
                    gemm.compile(sig)
                gemm.disable_compile()

    def check(self, A: Any, B: Any, C: Any, beta: Any, threads: Any) -> None:
        """Raise TypeError/ValueError with one sentence when the arguments do not fit."""
        for name, x, dt in (("A", A, self.dtypes[0]), ("B", B, self.dtypes[1]), ("C", C, np.dtype(np.int32))):
            if not isinstance(x, np.ndarray):
                raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}.")
            if x.ndim != 2:
                raise ValueError(f"{name} must be 2-D, got {x.ndim}-D with shape {x.shape}.")
            if x.dtype != dt:
                raise TypeError(f"{name} has dtype {x.dtype}; the {self.pair} kernel needs {dt}.")
        for name, x in (("A", A), ("B", B)):
            if not x.flags.c_contiguous:
                raise ValueError(f"{name} must be C-contiguous.")
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"shapes {A.shape} and {B.shape} do not align: A has {A.shape[1]} "
                             f"columns but B has {B.shape[0]} rows.")
        if C.shape != (A.shape[0], B.shape[1]):
            raise ValueError(f"C has shape {C.shape}, expected {(A.shape[0], B.shape[1])}.")
        if not C.flags.writeable:
            raise ValueError("C is read-only.")
        if C.shape[1] > 1 and C.strides[1] != 4 or C.strides[0] < 0 or (
                C.shape[0] > 1 and C.strides[0] < 4 * C.shape[1]):
            raise ValueError("C must have unit stride along its rows (C-contiguous rows).")
        if np.shares_memory(C, A) or np.shares_memory(C, B):
            raise ValueError("C overlaps A or B.")
        if isinstance(beta, (bool, np.bool_)) or beta not in (0, 1):
            raise ValueError(f"beta must be 0 or 1 for integers, got {beta!r}.")
        if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
            raise TypeError(f"threads must be an integer, got {type(threads).__name__}.")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}.")

    def asm(self) -> str:
        """The assembly of the driver, tile micro-kernels inlined. numba keeps none for code it
        loaded from its disk cache, so this compiles once more in a temporary directory."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gemmtune-asm-") as tmp:
            gemm = AmxKernel(self.params, self.pair, tmp).module.gemm
            return "\n".join(gemm.inspect_asm().values())

    def __call__(self, A: np.ndarray, B: np.ndarray, C: np.ndarray, beta: int = 0,
                 threads: int = 1) -> None:
        self.check(A, B, C, beta, threads)
        M, K = A.shape
        N = B.shape[1]
        if M == 0 or N == 0:
            return
        if K == 0:
            if beta == 0:
                C[...] = 0
            return
        if C.strides[1] != 4:
            # One column: give numba a view with unit stride (any stride is valid for N == 1).
            C = np.lib.stride_tricks.as_strided(C, strides=(C.strides[0], 4))
        gemm = self.module.gemm
        beta = int(beta)
        p = self.params
        if p.parallel == "m":
            parts = [(A[lo:hi], B, C[lo:hi]) for lo, hi in bands(M, threads, p.MR)]
        else:
            parts = [(A, B[:, lo:hi], C[:, lo:hi]) for lo, hi in bands(N, threads, p.NR)]
        if len(parts) == 1:
            gemm(A, B, C, beta)
            return
        # Each band runs on its own thread, which configures its own tiles (gemm is nogil).
        futures = [_thread_pool().submit(gemm, a, b, c, beta) for a, b, c in parts[1:]]
        a, b, c = parts[0]
        gemm(a, b, c, beta)
        for f in futures:
            f.result()


def compile_amx(params: AmxParams, pair: str, root: str | os.PathLike | None = None) -> AmxKernel:
    """Generate, compile (or load from numba's disk cache) and return the raw AMX core.

    Args:
        params: the kernel's block sizes and knobs.
        pair: "u8s8" (A uint8, B int8), "s8s8", "u8u8" or "s8u8".
        root: the gemmtune cache directory (default: $GEMMTUNE_CACHE_DIR or the user cache).

    Returns:
        ``raw(A, B, C, beta, threads) -> None``.

    Raises:
        RuntimeError: when this machine or process cannot run AMX (the reason says why).
        ValueError: for invalid parameters or an unknown pair.
    """
    return AmxKernel(params, pair, root)
