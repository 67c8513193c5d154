"""2-D products with M or N = 1: the blocked GEMM, the GEMV kernel and numpy, interleaved.

    python benchmarks/gemv_route.py [--threads 1] [--rounds 9] [--cache-dir DIR] [--json FILE]

For each shape (4096x4096 @ 4096x1, 1x4096 @ 4096x4096, 1024x1024 @ 1024x1, 1x64 @ 64x64,
float32) times, in interleaved rounds on the same operands, each allocating its result:

- ``numpy``: ``A @ B`` on the 2-D operands;
- ``gemm``: the blocked GEMM that ``gemmtune.matmul`` ran for 2-D operands before the GEMV
  route (the kernel ``api.choose`` picks, called directly);
- ``gemv``: the GEMV kernel on the same operands (``stacks.matmul_nd`` with the vector 1-D);
- ``matmul``: ``gemmtune.matmul(A, B)`` as a user calls it (whatever it routes to).

Ratios are taken per round (numpy's time over each contender's), so a slow moment of a
shared machine touches every contender of that round alike; the medians and the min-max of
the ratios are printed with the load average.
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import json
import os
import statistics
import tempfile

import numpy as np

SHAPES = [(4096, 1, 4096), (1, 4096, 4096), (1024, 1, 1024), (1, 64, 64)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--cache-dir", default=None, help="default: a fresh temporary directory")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    import gemmtune
    from gemmtune import api
    from gemmtune.measure import interleaved
    from gemmtune.problem import Problem
    from gemmtune.stacks import matmul_nd

    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-gemv-route-")
    t = args.threads
    rng = np.random.default_rng(0)
    rows = []
    print(f"{args.dtype}, {t} thread(s), {args.rounds} interleaved rounds; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    with threadpool_limits(limits=t, user_api="blas"):
        for m, n, k in SHAPES:
            A = rng.standard_normal((m, k)).astype(args.dtype)
            B = rng.standard_normal((k, n)).astype(args.dtype)
            gemm = api.choose(Problem(m, n, k, args.dtype, t), root).kernel
            a1, b1 = (A[0], B) if m == 1 else (A, B[:, 0])
            fns = {
                "numpy": lambda: A @ B,
                "gemm": lambda: gemm(A, B, threads=t),
                "gemv": lambda: matmul_nd(a1, b1, threads=t),
                "matmul": lambda: gemmtune.matmul(A, B, threads=t, cache_dir=root),
            }
            for fn in fns.values():
                fn()
            timings = interleaved(list(fns.values()), rounds=args.rounds, min_sample_seconds=0.05)
            s = {name: tm.samples for name, tm in zip(fns, timings)}
            row = {"m": m, "n": n, "k": k, "threads": t,
                   "numpy_us": 1e6 * statistics.median(s["numpy"]),
                   "gbs_numpy": 4.0 * m * n * k / max(m, n) / statistics.median(s["numpy"]) / 1e9}
            for name in ("gemm", "gemv", "matmul"):
                ratios = [a / b for a, b in zip(s["numpy"], s[name])]
                row[name] = {"us": 1e6 * statistics.median(s[name]), "ratio": statistics.median(ratios),
                             "min": min(ratios), "max": max(ratios)}
            row["route"] = gemmtune.best_config(m, n, k, args.dtype, t, root).get("kernel", "gemm")
            rows.append(row)
            cells = "  ".join(f"{name} {row[name]['us']:.1f} us {row[name]['ratio']:.2f}x "
                              f"({row[name]['min']:.2f}-{row[name]['max']:.2f})"
                              for name in ("gemm", "gemv", "matmul"))
            print(f"{m}x{k} @ {k}x{n}: numpy {row['numpy_us']:.1f} us; {cells}; "
                  f"best_config kernel {row['route']}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_average_end": os.getloadavg()[0]}, f, indent=2)


if __name__ == "__main__":
    main()
