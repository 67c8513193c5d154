"""The AMX int8 GEMM core: tile-register micro-kernels for Intel CPUs with amx-int8.

``compile_amx(params, pair)`` returns ``raw(A, B, C, beta, threads)``, the exact int32
product of 8-bit matrices on AMX tiles; it is the core an int8 ``matmul`` wrapper plugs in
(zero points, operand layouts, overflow checks and ``out=`` are the wrapper's). Nothing in
this package compiles or runs a tile instruction unless ``amx_available()`` is True, and
importing it does not import numba: that happens in ``compile_amx``.
"""

from __future__ import annotations

import os
from typing import Any

from .params import PAIR_DTYPES, PAIRS, AmxParams, default_amx_params
from .permission import amx_available
from .space import AmxSearchSpace
from .verify import verify_amx

__all__ = ["AmxKernel", "AmxParams", "AmxSearchSpace", "PAIRS", "PAIR_DTYPES", "amx_available",
           "compile_amx", "default_amx_params", "verify_amx"]


def compile_amx(params: AmxParams, pair: str, root: str | os.PathLike | None = None) -> Any:
    """Generate, compile (or load from numba's disk cache) and return the raw AMX core.

    See ``gemmtune.amx.kernel.compile_amx``: ``raw(A, B, C, beta, threads) -> None``.
    """
    from .kernel import compile_amx as _compile

    return _compile(params, pair, root)


def __getattr__(name: str) -> Any:
    if name == "AmxKernel":
        from .kernel import AmxKernel

        return AmxKernel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
