"""Measure every configuration of a small enumerable space for one shape: the replay table.

The table lets tests and benchmarks/sampler_efficiency.py replay searches offline
(simulation mode): a sampler's suggestion is looked up instead of compiled and timed, so
replayed searches are deterministic and cost nothing. Each configuration is measured by the
same worker and protocol as ``gemmtune search`` (compile, verify, time).

    python benchmarks/record_space.py -m 1024 -n 1024 -k 1024 -o tests/data/space_1024x1024x1024_f32_t1.json
    python benchmarks/record_space.py --space packing -m 1024 -n 1024 -k 1024 \
        -o tests/data/space_1024x1024x1024_f32_t1_packing.json

The run can be interrupted and restarted: finished rows are kept in ``<output>.partial``.
``--retime`` measures every row of a finished table again (its kernels are compiled by then,
so this is quick) and keeps the faster figure of the passes: a slowdown from another process
sharing the machine lowers one pass, rarely both.

``--paired`` times every row again against numpy instead (the protocol the tables now use):
in one process, each kernel runs in rounds interleaved with numpy's product at the same
thread count, and its figure is the median of the per-round ratios to numpy. A slow period
of the host lands on both sides of a ratio, so the order of kernels no longer depends on
when each was measured. Each call adds a pass (``ratio_passes``); the row's ``gflops`` is the
median pass times numpy's median figure over all passes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from gemmtune.problem import Problem
from gemmtune.search.space import ChoiceDim, IntDim, SearchSpace, point_key
from gemmtune.search.messages import EvaluateRequest
from gemmtune.search.worker_client import Worker


def table_space(dtype: str = "float32", kind: str = "blocks") -> SearchSpace:
    """A small grid around the AVX2 optimum, 224 valid kernels on 16 vector registers.

    "blocks": register tile (MR, NR), MC and KC (288 points). "packing": register tile, KC,
    and whether A and B are packed or read in place, with MC = 16 MR and the serial kernel
    a one-thread search uses (288 points).
    """
    if kind == "packing":
        dims = [
            IntDim("mr", 2, 7),
            IntDim("nr_vecs", 1, 3),
            IntDim("mc_mult", 16, 16),
            IntDim("kc_mult", 4, 16, step=4),
            IntDim("nc_mult", 256, 256),
            ChoiceDim("unroll", (4,)),
            ChoiceDim("prefetch", (0,)),
            ChoiceDim("parallel", ("m",)),
            ChoiceDim("vec_bits", (256,)),
            ChoiceDim("pack_a", (True, False)),
            ChoiceDim("pack_b", (True, False)),
        ]
        return SearchSpace(dtype, 16, 32, {d.name: d for d in dims})
    dims = [
        IntDim("mr", 2, 7),
        IntDim("nr_vecs", 1, 3),
        IntDim("mc_mult", 8, 32, step=8),
        IntDim("kc_mult", 4, 16, step=4),
        IntDim("nc_mult", 256, 256),
        ChoiceDim("unroll", (4,)),
        ChoiceDim("prefetch", (0,)),
        ChoiceDim("parallel", ("ic",)),
        ChoiceDim("vec_bits", (256,)),
    ]
    return SearchSpace(dtype, 16, 32, {d.name: d for d in dims})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", type=int, default=1024)
    ap.add_argument("-n", type=int, default=1024)
    ap.add_argument("-k", type=int, default=1024)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", default="/tmp/gemmtune-record", help="cache dir for compiled kernels")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--retime", action="store_true", help="measure a finished table again")
    ap.add_argument("--paired", type=int, default=0, metavar="PASSES",
                    help="time a finished table again, PASSES times, as ratios to numpy")
    ap.add_argument("--space", choices=("blocks", "packing"), default="blocks",
                    help="which grid to record (see table_space)")
    args = ap.parse_args()
    if args.retime:
        retime(Path(args.output), args.root, args.timeout)
        return
    if args.paired:
        retime_paired(Path(args.output), args.root, args.paired)
        return

    problem = Problem(args.m, args.n, args.k, args.dtype, args.threads)
    space = table_space(problem.dtype, args.space)
    out = Path(args.output)
    partial = out.with_name(out.name + ".partial")
    done = {}
    if partial.exists():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            done[point_key(row["point"])] = row
    points = list(space.valid_points())
    started = time.time()
    with Worker() as worker, partial.open("a") as log:
        reference = worker.numpy_gflops(problem.to_dict(), args.root, args.timeout)
        for i, (point, params) in enumerate(points):
            key = point_key(point)
            if key in done:
                continue
            res = worker.run(EvaluateRequest(params=params.to_dict(), problem=problem.to_dict(),
                                             root=args.root, samples=5, min_sample_seconds=0.05,
                                             reference_gflops=reference), args.timeout)
            row = {"point": point, "params": params.to_dict(), "status": res.status,
                   "reason": res.reason, **res.attrs()}
            done[key] = row
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(f"[{i + 1}/{len(points)}] {params.label()}: {res.status} "
                  f"{res.gflops or 0:.1f} GFLOP/s compile {res.compile_seconds or 0:.1f}s "
                  f"{res.reason}", file=sys.stderr, flush=True)
    rows = [done[point_key(p)] for p, _ in points]
    doc = {"problem": problem.to_dict(), "space": space.to_dict(),
           "machine": {"python": platform.python_version(), "processor": platform.processor()},
           "recorded_seconds": time.time() - started,
           "rows": rows}
    try:
        from gemmtune.fingerprint import fingerprint

        doc["fingerprint"] = fingerprint()["id"]
    except Exception:
        pass
    annotate(doc)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    partial.unlink()
    print(f"wrote {out} ({len(rows)} configurations)", file=sys.stderr)


def annotate(doc: dict) -> None:
    """Add what a replay needs besides the rows: this machine's starting points, and numpy's
    figure."""
    import numpy as np

    from gemmtune.families import family_for
    from gemmtune.measure import gemm_flops, measure, pinned_threads
    from gemmtune.search.starts import starting_points

    problem = Problem.from_dict(doc["problem"])
    space = SearchSpace.from_dict(doc["space"])
    doc["starts"] = [{"params": s.params.to_dict(), "source": s.source}
                     for s in starting_points(family_for(problem), space, problem)]
    rng = np.random.default_rng(0)
    A = rng.standard_normal((problem.m, problem.k)).astype(problem.dtype)
    B = rng.standard_normal((problem.k, problem.n)).astype(problem.dtype)
    C = np.empty((problem.m, problem.n), problem.dtype)
    with pinned_threads(problem.threads):
        t = measure(lambda: np.matmul(A, B, out=C), samples=7)
    doc["numpy_gflops"] = t.gflops(gemm_flops(problem.m, problem.n, problem.k))


def retime(path: Path, root: str, timeout: float) -> None:
    doc = json.loads(path.read_text())
    problem = Problem.from_dict(doc["problem"])
    with Worker() as worker:
        reference = worker.numpy_gflops(problem.to_dict(), root, timeout)
        for i, row in enumerate(doc["rows"]):
            if row.get("status") != "ok":
                continue
            res = worker.run(EvaluateRequest(params=row["params"], problem=problem.to_dict(),
                                             root=root, samples=5, min_sample_seconds=0.05,
                                             reference_gflops=reference), timeout)
            passes = row.setdefault("gflops_passes", [row["gflops"]])
            if res.status == "ok":
                passes.append(res.gflops)
                if res.gflops > row["gflops"]:
                    row.update(gflops=res.gflops, gflops_iqr=res.gflops_iqr)
            print(f"[{i + 1}/{len(doc['rows'])}] {passes}", file=sys.stderr, flush=True)
    annotate(doc)
    path.write_text(json.dumps(doc, indent=1) + "\n")


PAIRED_ROUNDS = 7


def retime_paired(path: Path, root: str, passes: int) -> None:
    """Add ``passes`` passes of numpy-paired ratios to every valid row (see the docstring)."""
    import statistics

    import numpy as np

    from gemmtune.kernels.gemm import compile_kernel
    from gemmtune.kernels.params import KernelParams
    from gemmtune.measure import gemm_flops, gflops, interleaved, iqr, pinned_threads

    doc = json.loads(path.read_text())
    problem = Problem.from_dict(doc["problem"])
    flops = gemm_flops(problem.m, problem.n, problem.k)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((problem.m, problem.k)).astype(problem.dtype)
    B = rng.standard_normal((problem.k, problem.n)).astype(problem.dtype)
    C = np.empty((problem.m, problem.n), problem.dtype)
    numpy_figures = doc.setdefault("paired_numpy_gflops", [])
    rows = [r for r in doc["rows"] if r.get("status") == "ok"]
    with pinned_threads(problem.threads):
        for p in range(passes):
            for i, row in enumerate(rows):
                kernel = compile_kernel(KernelParams.from_dict(row["params"]), problem.dtype, root)
                kernel.compile()  # a disk-cache load: every row was compiled when it was recorded
                ref, ker = interleaved([lambda: np.matmul(A, B, out=C),
                                        lambda: kernel(A, B, C, threads=problem.threads)],
                                       rounds=PAIRED_ROUNDS)
                ratio = statistics.median(r / k for r, k in zip(ref.samples, ker.samples))
                row.setdefault("ratio_passes", []).append(ratio)
                numpy_figures.append(gflops(flops, ref.median))
                print(f"pass {p + 1}/{passes} [{i + 1}/{len(rows)}] {row['params']['MR']}x"
                      f"{row['params']['NR']} kc{row['params']['KC']}: {ratio:.3f} of numpy",
                      file=sys.stderr, flush=True)
            path.write_text(json.dumps(doc, indent=1) + "\n")  # a pass survives an interrupt
    base = statistics.median(numpy_figures)
    for row in rows:
        row["gflops"] = statistics.median(row["ratio_passes"]) * base
        row["gflops_iqr"] = iqr([r * base for r in row["ratio_passes"]])
    doc["protocol"] = ("paired: the median over passes of each kernel's median per-round ratio "
                       f"to numpy ({PAIRED_ROUNDS} interleaved rounds of >= 50 ms samples per "
                       "pass), times numpy's median GFLOP/s over all passes")
    annotate(doc)
    doc["numpy_gflops"] = base  # the scale of every figure, rather than one more noisy sample
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
