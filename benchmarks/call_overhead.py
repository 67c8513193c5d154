"""What one ``gemmtune.matmul`` call costs on small products, next to numpy's ``@``.

    python benchmarks/call_overhead.py [--sizes 8,16,64] [--threads 1] [--calls 2000] [--layers]

Times what a user's loop pays per call (checks, the configuration lookup, dispatch and the
product), in batches of calls interleaved with numpy's on the same operands; prints the
median microseconds per call and the spread (IQR) over the batches. Run it against another
checkout with ``PYTHONPATH=/path/to/other/checkout`` to compare two versions.

``--layers`` also times, in the same batches, each layer under ``matmul`` for the float
kernels: ``matmul`` without ``threads`` (it then asks numba and the BLAS for their thread
counts), the kept plan's ``run``, the kernel's checked entry ``GemmKernel.__call__``, and the
compiled driver called directly (numba's dispatch and the product).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e6 * (time.perf_counter() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8,16,64")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calls", type=int, default=2000, help="calls per batch")
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--cache-dir", default=None, help="default: a new temporary directory")
    ap.add_argument("--layers", action="store_true",
                    help="also time each layer under matmul (float kernels, one thread)")
    args = ap.parse_args()

    import numpy as np
    from threadpoolctl import threadpool_limits

    import gemmtune
    from gemmtune.measure import iqr

    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-overhead-")
    print(f"gemmtune {gemmtune.__file__}; {args.dtype}, {args.threads} thread(s); "
          f"{args.batches} batches of {args.calls} calls, interleaved")
    with threadpool_limits(args.threads, user_api="blas"):
        for n in (int(s) for s in args.sizes.split(",")):
            A = np.ones((n, n), args.dtype)
            B = np.ones((n, n), args.dtype)
            C = np.empty((n, n), args.dtype)
            ours = lambda: gemmtune.matmul(A, B, out=C, threads=args.threads, cache_dir=root)  # noqa: E731
            theirs = lambda: np.matmul(A, B, out=C)  # noqa: E731
            ours()  # compile or load the kernel
            fns = {"gemmtune": ours, "numpy": theirs}
            if args.layers:
                from gemmtune import api

                plan = api._planned(A, B, args.threads, root)
                kernel = plan.choice.kernel
                kernel.compile()
                fns["matmul, no threads"] = lambda: gemmtune.matmul(A, B, out=C, cache_dir=root)
                fns["plan.run"] = lambda: plan.run(A, B, C, 1.0, 0.0)
                fns["GemmKernel.__call__"] = lambda: kernel(A, B, C, threads=args.threads)
                fns["driver"] = lambda: kernel.module.gemm(A, B, C, 1.0, 0.0, args.threads)
                fns["matmul, no threads"]()
            times = {name: [] for name in fns}
            for _ in range(args.batches):
                for name, fn in fns.items():
                    times[name].append(per_call_us(fn, args.calls))
            g, p = times.pop("gemmtune"), times.pop("numpy")
            print(f"{n:5d}^3: gemmtune {statistics.median(g):8.1f} us/call (IQR {iqr(g):.1f})   "
                  f"numpy {statistics.median(p):7.1f} us/call (IQR {iqr(p):.1f})")
            for name, t in times.items():
                print(f"       {name:20s} {statistics.median(t):8.1f} us/call (IQR {iqr(t):.1f})")


if __name__ == "__main__":
    main()
