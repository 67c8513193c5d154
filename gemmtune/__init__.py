"""gemmtune: BLIS-style GEMM kernels generated with numba and tuned per machine.

Heavy modules (numba, optuna) load on first use, so ``import gemmtune`` and
``gemmtune --help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["matmul", "best_config", "tune", "warmup", "conv2d", "conv2d_backward", "KernelParams",
           "__version__"]


def _quiet_spinning_workers() -> None:
    # Before numba loads its OpenMP layer: idle OpenMP workers spin for milliseconds after
    # each parallel region, on the cores the next multi-threaded kernel needs (spin.py).
    # OpenBLAS's idle threads do the same for about 0.1 s after each numpy product; a
    # program usually imports numpy first, so that one may mean a restart.
    from .spin import quiet_blas_spin, quiet_omp_spin

    quiet_omp_spin()
    quiet_blas_spin()


_quiet_spinning_workers()


def __getattr__(name: str) -> Any:
    value = _resolve(name)
    # Kept as a module attribute: ``gemmtune.matmul`` in a user's loop is then a plain
    # attribute read, not a call of this function (about 2 us of a small product).
    globals()[name] = value
    return value


def _resolve(name: str) -> Any:
    if name in ("matmul", "best_config", "tune"):
        from . import api

        return getattr(api, name)
    if name in ("conv2d", "conv2d_backward"):
        from . import conv

        return getattr(conv, name)
    if name == "warmup":
        from .preload import warmup

        return warmup
    if name == "KernelParams":
        from .kernels.params import KernelParams

        return KernelParams
    raise AttributeError(f"module 'gemmtune' has no attribute {name!r}")
