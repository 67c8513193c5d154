"""Block sizes of the ISA default configuration, compared on shapes other than the replay tables'.

    python benchmarks/seed_blocks.py [--dtype float32] [--threads 1] [--field KC --values 256,384,512]

The seed of ``configs/defaults/<family>.json`` is the kernel every search measures first and
the one ``matmul`` runs before a shape is tuned, so a change to it is checked here on a
suite of shapes (square and the transformer / MLP layers of ``configs/shapes/``) that leaves
out 1024^3, the shape of the replay tables in tests/data/ (``--shape`` picks others). Each
variant is the seed with one field changed. numpy and every variant run interleaved in rounds
(``gemmtune.measure.interleaved``: samples of >= 50 ms). Printed per shape: the median GFLOP/s
of each variant, its ratio to the seed as shipped (median of the per-round ratios, and their
IQR), and numpy's.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

SHAPES = [(512, 512, 512), (2048, 2048, 2048), (1536, 1536, 1536), (512, 2304, 768),
          (512, 768, 3072), (256, 1024, 784), (256, 1024, 1024)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--family", default=None, help="ISA family of the seed (default: this machine's)")
    ap.add_argument("--field", default="KC", help="the seed field to vary")
    ap.add_argument("--values", default="256,384,512", help="comma-separated values of --field")
    ap.add_argument("--shape", action="append", default=None, metavar="MxNxK",
                    help="a shape to compare on instead of the suite (repeatable)")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--cache-dir", default="/tmp/gemmtune-seed-blocks")
    args = ap.parse_args()

    from gemmtune.kernels.gemm import compile_kernel
    from gemmtune.measure import interleaved, pinned_threads
    from gemmtune.kernels.reference import verify_kernel
    from gemmtune.defaults import default_params

    dt = args.dtype
    seed = default_params(dt, args.family)
    values = [int(v) for v in args.values.split(",")]
    variants = {f"{args.field} {v}" + (" (seed)" if getattr(seed, args.field) == v else ""):
                seed.replace(**{args.field: v}) for v in values}
    if not any(getattr(seed, args.field) == v for v in values):
        variants = {f"seed ({args.field} {getattr(seed, args.field)})": seed, **variants}
    base_name = next(n for n, p in variants.items() if p == seed)
    kernels = {}
    for name, params in variants.items():
        k = compile_kernel(params.validate(dt), dt, args.cache_dir)
        k.compile()
        v = verify_kernel(k, 257, 263, 269, dt, threads=args.threads)
        if v.status == "FAIL":
            raise SystemExit(f"{name}: verification failed: {v.reason}")
        kernels[name] = k
    print(f"seed {seed.label()}; {dt}, "
          f"{args.threads} thread(s), {args.rounds} interleaved rounds")
    print(f"{'shape':>16s} {'variant':18s} {'GFLOP/s':>8s} {'vs seed':>8s} {'IQR':>6s}")
    rng = np.random.default_rng(0)
    summary: dict[str, list[float]] = {n: [] for n in kernels}
    with pinned_threads(args.threads):
        shapes = ([tuple(int(x) for x in s.lower().split("x")) for s in args.shape]
                  if args.shape else SHAPES)
        for m, n, kk in shapes:
            A = rng.standard_normal((m, kk)).astype(dt)
            B = rng.standard_normal((kk, n)).astype(dt)
            C = np.empty((m, n), dt)
            fns = {"numpy": lambda: np.matmul(A, B, out=C)}
            fns.update({name: (lambda k=k: k(A, B, C, threads=args.threads)) for name, k in kernels.items()})
            timings = interleaved(list(fns.values()), rounds=args.rounds)
            times = {name: t.samples for name, t in zip(fns, timings)}
            flop = 2.0 * m * n * kk
            for name, ts in times.items():
                g = statistics.median(flop / t / 1e9 for t in ts)
                if name == "numpy":
                    print(f"{m:>4d}x{n:>4d}x{kk:>4d}  {name:18s} {g:8.1f}")
                    continue
                ratios = [b / t for b, t in zip(times[base_name], ts)]
                q1, med, q3 = np.percentile(ratios, [25, 50, 75])
                summary[name].append(med)
                print(f"{'':16s} {name:18s} {g:8.1f} {med:8.3f} {q3 - q1:6.3f}")
    print("\ngeometric mean of the per-shape median ratios to the seed:")
    for name, rs in summary.items():
        print(f"  {name:18s} {float(np.exp(np.mean(np.log(rs)))):.3f}  (range {min(rs):.3f}-{max(rs):.3f})")


if __name__ == "__main__":
    main()
