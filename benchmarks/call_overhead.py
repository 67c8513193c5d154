"""What one ``gemmtune.matmul`` call costs on small products, next to numpy's ``@``.

    python benchmarks/call_overhead.py [--sizes 8,16,64] [--threads 1] [--calls 2000]

Times what a user's loop pays per call (checks, the configuration lookup, dispatch and the
product), in batches of calls interleaved with numpy's on the same operands; prints the
median microseconds per call and the spread (IQR) over the batches. Run it against another
checkout with ``PYTHONPATH=/path/to/other/checkout`` to compare two versions.
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
            g, p = [], []
            for _ in range(args.batches):
                g.append(per_call_us(ours, args.calls))
                p.append(per_call_us(theirs, args.calls))
            print(f"{n:5d}^3: gemmtune {statistics.median(g):8.1f} us/call (IQR {iqr(g):.1f})   "
                  f"numpy {statistics.median(p):7.1f} us/call (IQR {iqr(p):.1f})")


if __name__ == "__main__":
    main()
