"""How far two measurements of one kernel disagree: timed alone against timed paired with numpy.

    python benchmarks/timing_repeatability.py [-m 1024 -n 1024 -k 1024] [--rounds 15]

The search's worker measures a few kernels again and again, in rounds (each kernel alone,
then each paired with numpy, then the next round), so both protocols see the same slow and
fast periods of the host. For each protocol it prints how much two measurements of one
kernel differ (median and 90th percentile of |a - b| / max(a, b) over every pair of rounds)
and the seconds one measurement takes. Paired figures are on the scale of numpy's median
over the run, as in a search.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem
from gemmtune.search.messages import EvaluateRequest
from gemmtune.search.worker_client import Worker

KERNELS = [KernelParams(MR=6, NR=16, MC=96, KC=256, NC=4080),
           KernelParams(MR=4, NR=24, MC=128, KC=256, NC=6144),
           KernelParams(MR=5, NR=16, MC=80, KC=512, NC=4096, parallel="m")]


def spread(figures: list[float]) -> list[float]:
    return [abs(a - b) / max(a, b) for a, b in itertools.combinations(figures, 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", type=int, default=1024)
    ap.add_argument("-n", type=int, default=1024)
    ap.add_argument("-k", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--root", default="/tmp/gemmtune-repeatability")
    args = ap.parse_args()
    problem = Problem(args.m, args.n, args.k, "float32", args.threads)
    base = {"problem": problem.to_dict(), "root": args.root, "samples": 5,
            "min_sample_seconds": 0.05, "verify": False}
    request = lambda **kw: EvaluateRequest(**{**base, **kw})  # noqa: E731
    figures = {(mode, i): [] for mode in ("alone", "paired") for i in range(len(KERNELS))}
    ratios: dict[int, list[float]] = {i: [] for i in range(len(KERNELS))}
    numpy: list[float] = []
    seconds = {"alone": [], "paired": []}
    with Worker() as worker:
        numpy_ref = worker.numpy_gflops(base["problem"], args.root, 600)
        for i, p in enumerate(KERNELS):  # compile (or load) once, outside the rounds
            worker.run(request(params=p.to_dict(), samples=1), 600)
        for r in range(args.rounds):
            for mode in ("alone", "paired"):
                for i, p in enumerate(KERNELS):
                    req = request(params=p.to_dict(),
                                  reference_gflops=numpy_ref if mode == "paired" else None)
                    t0 = time.perf_counter()
                    res = worker.run(req, 600)
                    seconds[mode].append(time.perf_counter() - t0)
                    figures[(mode, i)].append(res.gflops)
                    if mode == "paired":
                        ratios[i].append(res.numpy_ratio)
                        numpy.append(res.numpy_gflops)
            print(f"round {r + 1}/{args.rounds}", flush=True)
    scale = statistics.median(numpy)
    print(f"\n{problem.label()}, {args.rounds} rounds; numpy during the run: median {scale:.1f}, "
          f"range {min(numpy):.1f}-{max(numpy):.1f} GFLOP/s")
    print(f"{'protocol':8s} {'kernel':34s} {'median GFLOP/s':>15s} {'diff median':>12s} {'p90':>6s}")
    for mode in ("alone", "paired"):
        diffs_all = []
        for i, p in enumerate(KERNELS):
            f = figures[(mode, i)] if mode == "alone" else [x * scale for x in ratios[i]]
            d = sorted(spread(f))
            diffs_all += d
            print(f"{mode:8s} {p.label():34s} {statistics.median(f):15.1f} "
                  f"{statistics.median(d):12.3f} {d[int(0.9 * len(d))]:6.3f}")
        diffs_all.sort()
        print(f"{mode:8s} {'all':34s} {'':15s} {statistics.median(diffs_all):12.3f} "
              f"{diffs_all[int(0.9 * len(diffs_all))]:6.3f}   "
              f"{statistics.median(seconds[mode]):.2f} s per measurement")


if __name__ == "__main__":
    main()
