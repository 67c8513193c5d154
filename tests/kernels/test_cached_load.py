"""A kernel in numba's disk cache loads in a new process without numba's compiler set-up."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from gemmtune.kernels.cached_load import load_cached

from .conftest import FRINGE_SETS

# A fresh interpreter: the kernel was compiled by this test session, so it must come from
# the disk cache, and numba's full set-up (numba.np.arraymath and the rest) must not run.
CHILD = r"""
import json, sys
import numpy as np
from gemmtune.kernels.gemm import compile_kernel
from gemmtune.kernels.params import KernelParams
from gemmtune.kernels.reference import check

params = KernelParams.from_dict(json.loads(sys.argv[1]))
kernel = compile_kernel(params, "float32", sys.argv[2])
rng = np.random.default_rng(1)
A = rng.standard_normal((37, 29)).astype(np.float32)
B = rng.standard_normal((29, 41)).astype(np.float32)
C = np.full((37, 41), np.nan, np.float32)
kernel(A, B, C, threads=2)
full_setup = "numba.np.arraymath" in sys.modules
hits = sum(kernel.module.gemm.stats.cache_hits.values())
misses = sum(kernel.module.gemm.stats.cache_misses.values())
# Compiling something else afterwards still works: numba sets itself up then.
import numba
total = numba.njit(lambda x: np.sum(x))(np.arange(4.0))
print(json.dumps({"full_setup": full_setup, "hits": hits, "misses": misses,
                  "status": check(C, A, B).status, "after": total}))
"""


def test_a_cached_kernel_loads_in_a_new_process_without_numba_set_up(kernels, kernel_root):
    params = FRINGE_SETS["float32"][0]  # parallel="ic": prange, so numba's thread pool too
    assert params.parallel == "ic"
    kernels("float32", 0).compile()  # in numba's disk cache from here on
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(params.to_dict()), kernel_root],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert (r["hits"], r["misses"]) == (1, 0)
    assert r["full_setup"] is False
    assert r["status"] == "PASS"
    assert r["after"] == 6.0


def test_a_function_without_a_disk_cache_is_left_to_numba():
    import numba

    f = numba.njit(cache=False)(lambda x: x + 1)
    assert load_cached(f, (numba.types.int64,)) is False
    assert f(1) == 2
