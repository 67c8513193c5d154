"""Stacked matmul and GEMV against numpy's ``@``, as a user calls ``gemmtune.matmul``.

    python benchmarks/stacked_matmul.py [--threads 1,2] [--rounds 9] [--candidates 6]
                                        [--cache-dir DIR] [--json FILE]

For each thread count and stack (4096 x 16^3, 1024 x 32^3, 256 x 64^3, 96 x 128x64 @ 64x128):

1. a short search: a few KernelParams around ``stack_params`` (tile, vector width, unroll,
   packing, driver) are checked against the float64 reference and timed interleaved with
   numpy; the best is stored in the cache dir as the tuning of that product shape, as
   ``gemmtune search`` would store it;
2. ``gemmtune.matmul(A, B)`` (out=None, so it allocates C like numpy does) and numpy's
   ``A @ B`` are timed in interleaved rounds; the ratio is taken per round, so a slow
   moment of a shared machine touches both.

Then GEMV 4096 x 4096 float32 (``A @ x``, and ``x @ A``) against numpy and against the
STREAM-triad bandwidth of ``gemmtune/peak.py`` for the same threads.
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import json
import statistics
import sys
import tempfile
import time

import numpy as np

STACKS = [(4096, 16, 16, 16), (1024, 32, 32, 32), (256, 64, 64, 64), (96, 128, 128, 64)]
TARGETS = {1: {(4096, 16, 16, 16): 1.5, (1024, 32, 32, 32): 1.3, (256, 64, 64, 64): 1.3,
               (96, 128, 128, 64): 1.2},
           2: {s: 1.5 for s in STACKS}}


def candidates(m: int, n: int, k: int, threads: int, limit: int, prior=None):
    """``stack_params`` first, then neighbours of it in today's KernelParams space.

    With more than one thread and the 1-thread winner ``prior``: that tile with both
    drivers (prange "ic", and "m": the serial driver on the thread pool), then the default.
    """
    from gemmtune.kernels.params import lanes
    from gemmtune.stacks import stack_params

    base = stack_params(m, n, k, "float32", threads)
    if threads > 1 and prior is not None:
        out = [prior.replace(parallel="ic"), prior.replace(parallel="m"), base,
               base.replace(parallel="ic")]
        return list(dict.fromkeys(out))[:limit]
    out = [base]
    for vec_bits, regs in ((512, 32), (256, 32)):
        p = stack_params(m, n, k, "float32", threads, vec_bits=vec_bits, registers=regs)
        out.append(p)
    vl = lanes(base.vec_bits, "float32")
    for mr in (base.MR // 2, 8, 6, 4):
        if 1 <= mr < base.MR:
            out.append(base.replace(MR=mr, MC=-(-m // mr) * mr))
    out.append(base.replace(unroll=4 if base.unroll == 1 else 1))
    if base.NR > vl:
        out.append(base.replace(NR=base.NR // 2, NC=-(-n // (base.NR // 2)) * (base.NR // 2)))
    out.append(base.replace(pack_b=True))
    if threads > 1:
        out.append(base.replace(parallel="m"))
    seen, unique = set(), []
    for p in out:
        if p not in seen and not p.problems("float32"):
            seen.add(p)
            unique.append(p)
    return unique[:limit]


def timed_rounds(fns, rounds: int, min_seconds: float = 0.05):
    """Seconds per call of each callable, in interleaved rounds (warm-up and calibration first)."""
    from gemmtune.measure import interleaved

    return [t.samples for t in interleaved(fns, rounds=rounds, min_sample_seconds=min_seconds)]


def summary(samples_np, samples_gt, flops):
    ratios = [a / b for a, b in zip(samples_np, samples_gt)]
    q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
    gf = [flops / s / 1e9 for s in samples_gt]
    gq = statistics.quantiles(gf, n=4, method="inclusive") if len(gf) > 1 else [gf[0]] * 3
    return {"gflops": statistics.median(gf), "gflops_iqr": gq[2] - gq[0],
            "numpy_gflops": statistics.median(flops / s / 1e9 for s in samples_np),
            "ratio": statistics.median(ratios), "ratio_q1": q[0], "ratio_q3": q[2]}


def bench_stack(shape, threads, rounds, limit, root, rng, log, prior=None):
    import gemmtune
    from gemmtune.cache import Entry, TuningCache, make_provenance
    from gemmtune.fingerprint import fingerprint_id
    from gemmtune.kernels.reference import check
    from gemmtune.problem import Problem
    from gemmtune.stacks import matmul_nd

    batch, m, n, k = shape
    A = rng.standard_normal((batch, m, k)).astype(np.float32)
    B = rng.standard_normal((batch, k, n)).astype(np.float32)
    flops = 2.0 * batch * m * n * k
    # 1. the short search
    found = []
    for p in candidates(m, n, k, threads, limit, prior):
        t0 = time.perf_counter()
        C = matmul_nd(A, B, threads=threads, params_for=lambda *a, p=p: p, cache_dir=root)
        compile_s = time.perf_counter() - t0
        worst = max(check(C[i], A[i], B[i]).residual for i in range(0, batch, max(1, batch // 16)))
        if worst >= 10:
            log(f"  {p.label()}: FAILS the residual check ({worst:.3g}); dropped")
            continue
        found.append((p, compile_s))
    fns = [lambda: A @ B] + [
        (lambda p: lambda: matmul_nd(A, B, threads=threads, params_for=lambda *a: p, cache_dir=root))(p)
        for p, _ in found]
    samples = timed_rounds(fns, rounds=5, min_seconds=0.02)
    scored = []
    for (p, compile_s), s in zip(found, samples[1:]):
        r = statistics.median(a / b for a, b in zip(samples[0], s))
        scored.append((r, p))
        log(f"  candidate {p.label()}: {r:.2f}x numpy (compile {compile_s:.1f} s)")
    best_ratio, best = max(scored, key=lambda x: x[0])
    TuningCache(root).put(Entry(fingerprint_id(), Problem(m, n, k, "float32", threads), best.to_dict(),
                                {"gflops": best_ratio * statistics.median(flops / x / 1e9 for x in samples[0])},
                                make_provenance(sampler="benchmarks/stacked_matmul.py", batch=batch)))
    # 2. as a user calls it
    samples = timed_rounds([lambda: A @ B, lambda: gemmtune.matmul(A, B, threads=threads, cache_dir=root)],
                           rounds=rounds)
    out = summary(samples[0], samples[1], flops)
    out.update(batch=batch, m=m, n=n, k=k, threads=threads, params=best.to_dict(),
               label=best.label(), candidates=len(found), target=TARGETS[threads][shape])
    return out, best


def bench_gemv(threads, rounds, root, rng):
    import gemmtune
    from gemmtune.peak import bandwidth

    n = 4096
    W = rng.standard_normal((n, n)).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    triad = bandwidth(threads, root)
    rows = []
    for name, np_fn, gt_fn in (
            ("A @ x", lambda: W @ x, lambda: gemmtune.matmul(W, x, threads=threads, cache_dir=root)),
            ("x @ A", lambda: x @ W, lambda: gemmtune.matmul(x, W, threads=threads, cache_dir=root))):
        gt_fn()
        samples = timed_rounds([np_fn, gt_fn], rounds=rounds)
        nbytes = 4.0 * n * n
        ratios = [a / b for a, b in zip(samples[0], samples[1])]
        gbs = statistics.median(nbytes / s / 1e9 for s in samples[1])
        rows.append({"product": name, "threads": threads, "gbs": gbs,
                     "numpy_gbs": statistics.median(nbytes / s / 1e9 for s in samples[0]),
                     "ratio": statistics.median(ratios), "ratio_q1": min(ratios), "ratio_q3": max(ratios),
                     "triad_gbs": triad["gbs"], "of_triad": gbs / triad["gbs"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--candidates", type=int, default=6, help="parameter sets tried per stack")
    ap.add_argument("--cache-dir", default=None, help="default: a fresh temporary directory")
    ap.add_argument("--only", default="stacks,gemv", help="stacks, gemv or both")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-stacked-")
    rng = np.random.default_rng(0)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = {"stacks": [], "gemv": []}
    winners = {}
    for t in (int(x) for x in args.threads.split(",")):
        with threadpool_limits(limits=t, user_api="blas"):
            if "stacks" in args.only:
                for shape in STACKS:
                    log(f"{shape[0]} x {shape[1]}x{shape[3]} @ {shape[3]}x{shape[2]}, {t} thread(s)")
                    r, winners[shape] = bench_stack(shape, t, args.rounds, args.candidates, root, rng,
                                                    log, winners.get(shape))
                    results["stacks"].append(r)
                    log(f"  gemmtune.matmul {r['gflops']:.1f} GFLOP/s, numpy {r['numpy_gflops']:.1f}: "
                        f"{r['ratio']:.2f}x ({r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}), {r['label']}")
            if "gemv" in args.only:
                for r in bench_gemv(t, args.rounds, root, rng):
                    results["gemv"].append(r)
                    log(f"GEMV 4096x4096 {r['product']}, {t} thread(s): {r['gbs']:.1f} GB/s, numpy "
                        f"{r['numpy_gbs']:.1f}: {r['ratio']:.2f}x; {100 * r['of_triad']:.0f}% of triad "
                        f"{r['triad_gbs']:.1f}")
    print("| stack | threads | gemmtune GFLOP/s | numpy GFLOP/s | ratio (IQR) | target | kernel |")
    print("|---|---|---|---|---|---|---|")
    for r in results["stacks"]:
        print(f"| {r['batch']} x {r['m']}x{r['k']} @ {r['k']}x{r['n']} | {r['threads']} | {r['gflops']:.1f} "
              f"| {r['numpy_gflops']:.1f} | {r['ratio']:.2f}x ({r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}) "
              f"| {r['target']}x | `{r['label']}` |")
    if results["gemv"]:
        print("\n| GEMV 4096x4096 f32 | threads | gemmtune GB/s | numpy GB/s | ratio (min-max) | triad GB/s | of triad |")
        print("|---|---|---|---|---|---|---|")
        for r in results["gemv"]:
            print(f"| {r['product']} | {r['threads']} | {r['gbs']:.1f} | {r['numpy_gbs']:.1f} | {r['ratio']:.2f}x "
                  f"({r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}) | {r['triad_gbs']:.1f} | {100 * r['of_triad']:.0f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
