"""GOP/s of gemmtune's integer GEMM against what a Python user has, in interleaved rounds.

    python benchmarks/int8_matmul.py [--sizes 256,512,1024,2048] [--threads 1,2] [--pair u8s8]
                                     [--rounds 7] [--params FILE.json] [--candidates N]
                                     [--numpy-int-max 1024] [--json OUT.json]

GOP/s = 2*M*N*K / s for every contender (for floats the same count is GFLOP/s):

- gemmtune: the integer kernel (``--params``: an Int8Params JSON, per size or one for all;
  otherwise the default for this CPU, or with ``--candidates N`` the best of the N first
  of a short list of hand-picked tiles for the best ISA, picked in interleaved rounds);
- numpy int: ``A32 @ B32`` on int32 copies (numpy has no BLAS for integers); slow, so only
  up to ``--numpy-int-max``;
- numpy f32: ``Af @ Bf`` on float32 copies through BLAS; exact only while every sum stays
  below 2**24 in magnitude, i.e. K <= 2**24 // (max|A| * max|B|) (``gemmtune.int8.f32_exact_k``:
  514 for u8s8);
- onnxruntime MatMulInteger (exact) when ``onnxruntime`` and ``onnx`` are
  installed (the ``peers`` extra).

The numpy and onnxruntime contenders are ``gemmtune.bench.integer``'s, the ones
``gemmtune bench --dtype u8s8`` runs (which also runs the tuned configuration from the
cache); this script picks among hand-made tiles instead. Casts and copies happen before
timing. Every contender whose result must be exact (all but numpy f32 past its exact K) is
compared with an exact reference first. Thread counts are
pinned (threadpoolctl for numpy, session options for onnxruntime). The machine may be
shared: read ratios, which are measured in the same
rounds, rather than absolute figures.
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from gemmtune.bench import integer
from gemmtune.int8 import Int8Params, available_isas, compile_int8, default_params, f32_exact_k, pair_dtypes
from gemmtune.int8.verify import exact_reference
from gemmtune.measure import gemm_flops, interleaved, pinned_threads

# Hand-picked vnni512 / 256-bit tiles that fit the register file, tried by --candidates.
CANDIDATES = {
    "vnni512": [dict(MR=8, NR=48, MC=96, KC=1024, NC=1536), dict(MR=6, NR=64, MC=96, KC=1024, NC=1536),
                dict(MR=14, NR=32, MC=112, KC=1024, NC=1536), dict(MR=8, NR=48, MC=192, KC=512, NC=1536),
                dict(MR=12, NR=32, MC=96, KC=1024, NC=2048), dict(MR=8, NR=48, MC=48, KC=2048, NC=1536)],
    "vnni256": [dict(MR=8, NR=24, MC=96, KC=1024, NC=1536), dict(MR=6, NR=16, MC=96, KC=1024, NC=1536)],
    "avx2": [dict(MR=6, NR=16, MC=96, KC=512, NC=1536), dict(MR=4, NR=24, MC=96, KC=512, NC=1536),
             dict(MR=8, NR=24, MC=96, KC=512, NC=1536)],
}


def pick(pair: str, n: int, threads: int, count: int, rounds: int, root: str | None) -> Int8Params:
    """The best of the first ``count`` candidates for the best ISA at n^3, in interleaved rounds."""
    base = default_params(pair)
    cands = [base] + [base.replace(**c) for c in CANDIDATES.get(base.isa, [])[:count]]
    cands = list(dict.fromkeys(cands))
    A, B = integer.operands(pair, n, n, n, seed=1)
    C = np.empty((n, n), np.int32)
    kernels = [compile_int8(p, pair, root) for p in cands]
    t = interleaved([lambda k=k: k(A, B, C, threads=threads) for k in kernels], rounds=rounds)
    best = min(range(len(cands)), key=lambda i: t[i].median)
    return cands[best]


NAMES = {"numpy": "numpy f32", "numpy_int": "numpy int", "onnxruntime": "onnxruntime"}


def run(args) -> dict:
    pair = args.pair
    pair_dtypes(pair)   # an unknown pair fails here, before anything compiles
    exact_k = f32_exact_k(pair)
    notes: list[str] = []

    def note(text: str) -> None:
        if text not in notes:
            notes.append(text)
            print(f"note: {text}", file=sys.stderr)

    rows = []
    params_file = json.loads(Path(args.params).read_text()) if args.params else None
    for threads in args.threads:
        for n in args.sizes:
            if params_file is not None:
                spec = params_file.get(str(n), params_file) if isinstance(params_file, dict) else params_file
                params = Int8Params.from_dict(spec)
            elif args.candidates:
                params = pick(pair, n, threads, args.candidates, 3, args.root)
            else:
                params = default_params(pair)
            kernel = compile_int8(params, pair, args.root)
            A, B = integer.operands(pair, n, n, n)
            C = np.empty((n, n), np.int32)
            ref = exact_reference(A, B)
            kernel(A, B, C, threads=threads)
            assert np.array_equal(C, ref), "gemmtune's integer kernel is wrong: not timed"
            names = ["gemmtune"]
            fns = [lambda: kernel(A, B, C, threads=threads)]
            wrong = set()
            for peer in integer.peers(A, B, pair, threads, numpy_int_max=args.numpy_int_max, on_note=note):
                got = peer.fn()
                if peer.exact and not np.array_equal(peer.out if peer.out is not None else got, ref):
                    # Timed all the same (its speed is what its users get), but marked: on
                    # AVX2 without VNNI onnxruntime's u8s8 kernel saturates (vpmaddubsw).
                    bad = int(np.count_nonzero((peer.out if peer.out is not None else got) != ref))
                    note(f"{peer.name} is not exact for {pair} at {n}^3 ({bad} of {n * n} elements "
                         "wrong): timed, marked inexact")
                    wrong.add(NAMES[peer.role])
                names.append(NAMES[peer.role])
                fns.append(peer.fn)
            with pinned_threads(threads):
                timings = interleaved(fns, rounds=args.rounds, min_sample_seconds=0.05)
            ops = gemm_flops(n, n, n)
            row = {"n": n, "threads": threads, "params": params.to_dict(), "label": params.label(),
                   "f32_exact": n <= exact_k, "contenders": {}}
            for name, t in zip(names, timings):
                per = sorted(ops / s / 1e9 for s in t.samples)
                row["contenders"][name] = {"gops": ops / t.median / 1e9, "min": per[0], "max": per[-1],
                                           "samples": len(per), "repeats": t.repeats,
                                           **({"inexact": True} if name in wrong else {})}
            g = row["contenders"]["gemmtune"]["gops"]
            row["ratios"] = {name: g / c["gops"] for name, c in row["contenders"].items() if name != "gemmtune"}
            rows.append(row)
            print(_line(row), flush=True)
    return {"pair": pair, "isas": list(available_isas()), "cpu": platform.processor() or platform.machine(),
            "f32_exact_max_k": exact_k, "rows": rows, "notes": notes}


def _line(row: dict) -> str:
    c = row["contenders"]
    parts = [f"{row['n']:>5}^3 t={row['threads']} {row['label']:<40}"]
    for name, v in c.items():
        mark = " (inexact)" if v.get("inexact") else ""
        parts.append(f"{name}{mark} {v['gops']:7.1f} [{v['min']:.0f}-{v['max']:.0f}]")
    parts.append(" ".join(f"x{r:.2f} vs {k}" for k, r in row["ratios"].items()))
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512,1024,2048", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--threads", default="1,2", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--pair", default="u8s8")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--params", help="an Int8Params JSON file (one object, or one per size)")
    ap.add_argument("--candidates", type=int, default=0, help="pick the best of N hand-picked tiles per size")
    ap.add_argument("--numpy-int-max", type=int, default=1024, help="largest n timed with numpy's integer matmul")
    ap.add_argument("--root", default=None, help="gemmtune cache directory for compiled kernels")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    doc = run(args)
    doc["median_of"] = args.rounds
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
