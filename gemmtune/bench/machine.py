"""What a benchmark records of the machine beside its figures: the BLAS libraries numpy
uses, the load, OpenBLAS's thread timeout."""

from __future__ import annotations

import os
from typing import Any, Sequence


def blas_libraries() -> list[dict[str, Any]]:
    """numpy's BLAS as threadpoolctl names it: vendor, version, architecture, threading.

    Other BLAS copies may be loaded in the process (numba loads scipy's for its own linear
    algebra); the ones shipped inside numpy's wheel (``numpy.libs``) or under numpy's
    directory come first, as they are the ones ``@`` calls.
    """
    import numpy
    from threadpoolctl import threadpool_info

    libs = [{"vendor": lib.get("internal_api"), "version": lib.get("version"),
             "architecture": lib.get("architecture"), "threading": lib.get("threading_layer"),
             "filepath": str(lib.get("filepath", ""))}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    home = os.path.dirname(os.path.dirname(numpy.__file__))
    ours = [lib for lib in libs
            if lib["filepath"].startswith((os.path.join(home, "numpy.libs"),
                                           os.path.dirname(numpy.__file__)))]
    for lib in libs:
        lib["used_by_numpy"] = lib in ours
    return ours + [lib for lib in libs if lib not in ours]


def blas_label(libs: Sequence[dict[str, Any]]) -> str:
    """E.g. "OpenBLAS 0.3.31 (Haswell kernels)"; "unknown BLAS" when threadpoolctl sees none."""
    if not libs:
        return "unknown BLAS"
    lib = libs[0]
    vendor = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(str(lib["vendor"]), str(lib["vendor"]))
    arch = f" ({lib['architecture']} kernels)" if lib.get("architecture") else ""
    return f"{vendor} {lib.get('version') or ''}".strip() + arch



def _loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load when the run ended: other work skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _blas_thread_timeout() -> dict[str, Any]:
    from ..spin import blas_thread_timeout

    return blas_thread_timeout()


def _omp_spin() -> dict[str, Any]:
    from ..spin import omp_spin

    return omp_spin()
