"""First-call and steady-state latency of gemmtune.matmul in a fresh process, next to numpy.

    python benchmarks/matmul_latency.py [--size 512] [--dtype float32] [--threads 1]

Runs the measurement twice, each time in a new Python process with the same cache dir: the
first process may compile the kernel; the second must load it from numba's disk cache, so
its first call (import of the kernel module, loading machine code, the product itself) is
what a user's program pays once. Steady state is the median of 20 later calls.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import gemmtune
from threadpoolctl import threadpool_limits
n, dtype, threads, root = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
A = rng.standard_normal((n, n)).astype(dtype)
B = rng.standard_normal((n, n)).astype(dtype)
t_import = time.perf_counter() - t0
t0 = time.perf_counter()
gemmtune.matmul(A, B, threads=threads, cache_dir=root)
first = time.perf_counter() - t0
ours, theirs = [], []
with threadpool_limits(threads, user_api="blas"):
    A @ B
    for _ in range(20):
        t0 = time.perf_counter(); gemmtune.matmul(A, B, threads=threads, cache_dir=root)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); A @ B
        theirs.append(time.perf_counter() - t0)
import statistics
print(json.dumps({"import_s": t_import, "first_call_s": first,
                  "steady_ms": 1e3 * statistics.median(ours), "numpy_ms": 1e3 * statistics.median(theirs),
                  "config": gemmtune.api.resolve(gemmtune.problem.Problem(n, n, n, dtype, threads), root)[1]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=None, help="default: a new temporary directory")
    args = ap.parse_args()
    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-latency-")
    print(f"gemmtune.matmul {args.size}^3 {args.dtype}, {args.threads} thread(s), cache dir {root}")
    for run in ("first process (cold disk cache)", "second process (warm disk cache)"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.size), args.dtype,
                              str(args.threads), root], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{run}: import {r['import_s']:.2f} s, first call {r['first_call_s']:.3f} s, "
              f"steady {r['steady_ms']:.2f} ms (numpy {r['numpy_ms']:.2f} ms), config: {r['config']['source']}")


if __name__ == "__main__":
    main()
