"""GOP/s of the AMX int8 core against what a Python user has, interleaved.

    python benchmarks/amx_matmul.py [--sizes 256,512,1024,2048] [--threads 1,2] [--rounds 7]
        [--pair u8s8] [--tune TRIALS | --params JSON] [--numpy-int-max 1024]
        [--cache-dir DIR] [--json FILE]

Contenders, each on the same square problem n x n x n and pinned to the same thread count:

- ``amx``: gemmtune.amx's raw core (C = A @ B into a preallocated int32 C), with the default
  parameters, ``--params``, or the best of a short Optuna search (``--tune TRIALS``) over
  AmxSearchSpace for that size and thread count;
- ``ort``: onnxruntime's MatMulInteger (exact) when onnxruntime and onnx are installed (the
  ``peers`` extra), with intra_op_num_threads set;
- ``np_f32``: numpy's float32 BLAS on inputs cast to float32 beforehand (the cast is not
  timed). It is exact only while every sum stays below 2^24 (``gemmtune.int8.f32_exact_k``);
- ``np_int``: numpy's integer matmul on int32 inputs (a naive loop: sizes above
  ``--numpy-int-max`` are skipped, a 2048^3 product takes seconds).

These three are ``gemmtune.bench.integer``'s, the ones ``gemmtune bench --dtype u8s8`` runs;
this script adds the raw core, its own search and the CPU-time clock.

Every figure is the median of ``--rounds`` samples taken in alternating rounds
(gemmtune.measure.interleaved), with the interquartile range as the spread; GOP/s counts a
multiply and an add per term, like GFLOP/s. The AMX result, and every peer's whose result
must be exact, is checked for exact equality with an exact reference before it is timed.

``--cpu-time`` times one-thread rows in the calling thread's CPU time (``time.thread_time``)
instead of wall time: on a machine shared with other processes their time slices are then
not charged to the contender that happened to be running. Every contender of a one-thread
row computes in the calling thread (onnxruntime with intra_op_num_threads=1, numpy's BLAS
pinned to one thread), so the comparison stays fair; two-thread rows always use wall time.
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import json
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

from gemmtune.amx import PAIR_DTYPES, AmxParams, AmxSearchSpace, amx_available, compile_amx
from gemmtune.bench import integer
from gemmtune.int8 import f32_exact_k
from gemmtune.int8.verify import exact_reference
from gemmtune.measure import gemm_flops, interleaved, measure, pinned_threads

PEER_NAMES = {"onnxruntime": "ort", "numpy": "np_f32", "numpy_int": "np_int"}
_said: set[str] = set()


def _note(text: str) -> None:
    if text not in _said:
        _said.add(text)
        print(f"note: {text}", file=sys.stderr)


def tune(pair: str, n: int, threads: int, trials: int, root: str, seeds: list[AmxParams],
         cpu_time: bool = False) -> tuple[AmxParams, float]:
    """The best of ``trials`` candidates of a TPE search at n^3 (seeds tried first)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = AmxSearchSpace.for_machine(pair, threads)
    A, B = integer.operands(pair, n, n, n, seed=1)
    C = np.empty((n, n), np.int32)
    flops = gemm_flops(n, n, n)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    for p in seeds:
        study.enqueue_trial(space.encode(p))
    best: tuple[AmxParams, float] | None = None
    for _ in range(trials):
        trial = study.ask()
        params = space.suggest(trial)
        kernel = compile_amx(params, pair, root)
        if cpu_time and threads == 1:
            secs = interleaved_cpu([lambda: kernel(A, B, C, 0, threads)], 3, 0.03)[0]
        else:
            secs = measure(lambda: kernel(A, B, C, 0, threads), samples=3, min_sample_seconds=0.03).samples
        # The best sample, not the median: on a shared machine the fastest sample is the one
        # least disturbed by other processes, and the search compares candidates by it.
        gops = flops / min(secs) / 1e9
        study.tell(trial, gops)
        print(f"  tune {n}^3 t{threads}: {gops:7.0f} GOP/s  {params.label()}", file=sys.stderr, flush=True)
        if best is None or gops > best[1]:
            best = (params, gops)
    assert best is not None
    return best


def interleaved_cpu(fns: list[Callable[[], Any]], rounds: int, min_sample_seconds: float = 0.05) -> list[list[float]]:
    """Seconds per call in the calling thread's CPU time, in alternating rounds."""
    clock = time.thread_time
    calls = []
    for fn in fns:
        fn()
        n = 1
        while True:
            t0 = clock()
            for _ in range(n):
                fn()
            took = clock() - t0
            if took >= min_sample_seconds:
                break
            n = max(2 * n, int(n * min_sample_seconds * 1.2 / max(took, 1e-6)) + 1)
        calls.append(n)
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = clock()
            for _ in range(calls[i]):
                fn()
            out[i].append((clock() - t0) / calls[i])
    return out


def bench_one(pair: str, n: int, threads: int, params: AmxParams, rounds: int, root: str,
              numpy_int_max: int, cpu_time: bool = False) -> dict[str, Any]:
    A, B = integer.operands(pair, n, n, n)
    C = np.empty((n, n), np.int32)
    kernel = compile_amx(params, pair, root)
    C[...] = -1
    ref = exact_reference(A, B)
    kernel(A, B, C, 0, threads)
    if not np.array_equal(C, ref):
        raise SystemExit(f"{params.label()} is wrong at {n}^3: refusing to time it.")
    fns: dict[str, Callable[[], Any]] = {"amx": lambda: kernel(A, B, C, 0, threads)}
    for peer in sorted(integer.peers(A, B, pair, threads, numpy_int_max=numpy_int_max, on_note=_note),
                       key=lambda p: list(PEER_NAMES).index(p.role)):
        got = peer.fn()
        if peer.exact and not np.array_equal(peer.out if peer.out is not None else got, ref):
            raise SystemExit(f"{peer.name} is wrong at {n}^3: refusing to time it.")
        fns[PEER_NAMES[peer.role]] = peer.fn
    flops = gemm_flops(n, n, n)
    clock = "thread_cpu" if cpu_time and threads == 1 else "wall"
    with pinned_threads(threads):
        if clock == "wall":
            samples = [t.samples for t in interleaved(list(fns.values()), rounds=rounds,
                                                      min_sample_seconds=0.05)]
        else:
            samples = interleaved_cpu(list(fns.values()), rounds)
    row: dict[str, Any] = {"n": n, "threads": threads, "pair": pair, "params": params.to_dict(),
                           "label": params.label(), "f32_exact": n <= f32_exact_k(pair),
                           "clock": clock}
    for name, secs in zip(fns, samples):
        per = [flops / s / 1e9 for s in secs]
        q = np.percentile(per, [25, 75])
        row[name] = {"gops": float(np.median(per)), "gops_q1": float(q[0]), "gops_q3": float(q[1]),
                     "samples": len(secs)}
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--pair", default="u8s8", choices=sorted(PAIR_DTYPES))
    ap.add_argument("--params", help="AmxParams as JSON, used for every size")
    ap.add_argument("--tune", type=int, default=0, help="trials of a TPE search per size and thread count")
    ap.add_argument("--numpy-int-max", type=int, default=1024)
    ap.add_argument("--cache-dir", help="gemmtune cache dir for compiled kernels (default: a temporary one)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time one-thread rows in the calling thread's CPU time (shared machines)")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    ok, why = amx_available()
    if not ok:
        raise SystemExit(f"AMX cannot run here: {why}")
    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-amx-bench-")
    base = AmxParams.from_dict(json.loads(args.params)) if args.params else AmxParams()
    # Tuning starts from the base and from shapes that did well in hand-made sweeps here.
    seeds = [base, AmxParams(TM=1, TN=4, MC=128, KC=1024, NC=2048, unroll=4),
             AmxParams(TM=2, TN=2, MC=256, KC=2048, NC=2048, unroll=2),
             AmxParams(TM=1, TN=3, MC=64, KC=2048, NC=672, unroll=4)]
    seeds = list(dict.fromkeys(seeds))
    rows = []
    started = time.time()
    for threads in (int(t) for t in args.threads.split(",")):
        for n in (int(s) for s in args.sizes.split(",")):
            params = base
            if args.tune:
                params, _ = tune(args.pair, n, threads, args.tune, root, seeds, args.cpu_time)
            row = bench_one(args.pair, n, threads, params, args.rounds, root, args.numpy_int_max,
                            args.cpu_time)
            rows.append(row)
            print(format_row(row), flush=True)
    print(f"# {time.time() - started:.0f} s; pair {args.pair}; float32 exact up to K = "
          f"{f32_exact_k(args.pair)}; medians of {args.rounds} interleaved rounds [IQR]",
          flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "argv": sys.argv[1:]}, f, indent=1)


def format_row(row: dict[str, Any]) -> str:
    def cell(name: str) -> str:
        r = row.get(name)
        if r is None:
            return "-"
        d = 0 if r["gops"] >= 10 else 2
        return f"{r['gops']:.{d}f} [{r['gops_q1']:.{d}f}-{r['gops_q3']:.{d}f}]"

    amx = row["amx"]["gops"]
    ratios = " ".join(f"{amx / row[c]['gops']:.2f}x/{c}" for c in ("ort", "np_f32", "np_int") if c in row)
    return (f"{row['n']:5d}^3 t{row['threads']} {row['clock']:10s}  amx {cell('amx')}  ort {cell('ort')}  "
            f"np_f32 {cell('np_f32')}  np_int {cell('np_int')}  {ratios}  {row['label']}")


if __name__ == "__main__":
    main()
