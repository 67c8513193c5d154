"""First-call and steady-state latency of gemmtune.matmul in a fresh process, next to numpy.

    python benchmarks/matmul_latency.py [--size 512] [--dtype float32] [--threads 1]
                                        [--default-threads]

Runs the measurement in new Python processes that share one cache dir: the first process
may compile the kernel; the later ones (--warm of them, 5 by default) must load it from
numba's disk cache, so their first call (importing numba and the kernel module, loading the
machine code, the product itself) is what a user's program pays once. Their median and
range are printed. Steady state is the median of 20 later calls, interleaved with numpy.
--default-threads calls ``matmul`` without ``threads=``, so the steady state includes
choosing the default thread count (gemmtune/threads.py) on every call.
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
kw = {"threads": threads} if threads else {}   # 0: matmul's default thread count
if not threads:
    import gemmtune.api
    threads = gemmtune.api._default_threads()
rng = np.random.default_rng(0)
A = rng.standard_normal((n, n)).astype(dtype)
B = rng.standard_normal((n, n)).astype(dtype)
t_import = time.perf_counter() - t0
t0 = time.perf_counter()
gemmtune.matmul(A, B, cache_dir=root, **kw)
first = time.perf_counter() - t0
ours, theirs = [], []
with threadpool_limits(threads, user_api="blas"):
    A @ B
    for _ in range(20):
        t0 = time.perf_counter(); gemmtune.matmul(A, B, cache_dir=root, **kw)
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
    ap.add_argument("--warm", type=int, default=5, help="processes run with a warm disk cache")
    ap.add_argument("--default-threads", action="store_true",
                    help="call matmul without threads= (its default on every call)")
    ap.add_argument("--cache-dir", default=None, help="default: a new temporary directory")
    args = ap.parse_args()
    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-latency-")
    print(f"gemmtune.matmul {args.size}^3 {args.dtype}, {args.threads} thread(s), cache dir {root}")
    firsts = []
    for i in range(1 + args.warm):
        threads = 0 if args.default_threads else args.threads
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.size), args.dtype,
                              str(threads), root], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        run = "process 1 (disk cache as found)" if i == 0 else f"process {i + 1} (warm disk cache)"
        print(f"{run}: import {r['import_s']:.2f} s, first call {r['first_call_s']:.3f} s, "
              f"steady {r['steady_ms']:.2f} ms (numpy {r['numpy_ms']:.2f} ms), config: {r['config']['source']}")
        if i:
            firsts.append(r["first_call_s"])
    if firsts:
        import statistics

        print(f"first call with a warm disk cache: median {statistics.median(firsts):.3f} s "
              f"(min {min(firsts):.3f}, max {max(firsts):.3f}, {len(firsts)} processes)")


if __name__ == "__main__":
    main()
