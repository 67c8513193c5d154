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
  below 2**24 in magnitude, i.e. K <= 2**24 // (max|A| * max|B|) (513 for u8s8);
- onnxruntime MatMulInteger (uint8/int8, exact) when ``onnxruntime`` and ``onnx`` are
  installed (the ``peers`` extra).

Casts and copies happen before timing. gemmtune and onnxruntime are checked against an
exact reference first (numpy's int32 product is exact by construction). Thread counts are
pinned (threadpoolctl for numpy, session options for onnxruntime). The machine may be
shared: read ratios, which are measured in the same
rounds, rather than absolute figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from gemmtune.int8 import Int8Params, available_isas, compile_int8, default_params, pair_dtypes
from gemmtune.int8.verify import exact_reference, random_operand
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


def onnx_matmul_integer(pair: str, threads: int):
    """A callable ``f(A, B) -> C`` running onnxruntime's MatMulInteger, or None."""
    from gemmtune.bench.peers import PeerUnavailable, matmul_integer

    a_dt, b_dt = pair_dtypes(pair)
    try:
        return matmul_integer(np.dtype(a_dt).name, np.dtype(b_dt).name, threads)
    except PeerUnavailable as exc:  # not installed, or a pair this build has no kernel for
        print(f"onnxruntime: {exc}", file=sys.stderr)
        return None


def f32_exact_k(pair: str) -> int:
    a_dt, b_dt = pair_dtypes(pair)
    amax = max(abs(int(np.iinfo(a_dt).min)), int(np.iinfo(a_dt).max))
    bmax = max(abs(int(np.iinfo(b_dt).min)), int(np.iinfo(b_dt).max))
    return 2**24 // (amax * bmax)


def pick(pair: str, n: int, threads: int, count: int, rounds: int, root: str | None) -> Int8Params:
    """The best of the first ``count`` candidates for the best ISA at n^3, in interleaved rounds."""
    base = default_params(pair)
    cands = [base] + [base.replace(**c) for c in CANDIDATES.get(base.isa, [])[:count]]
    cands = list(dict.fromkeys(cands))
    rng = np.random.default_rng(1)
    a_dt, b_dt = pair_dtypes(pair)
    A, B = random_operand(rng, (n, n), a_dt), random_operand(rng, (n, n), b_dt)
    C = np.empty((n, n), np.int32)
    kernels = [compile_int8(p, pair, root) for p in cands]
    t = interleaved([lambda k=k: k(A, B, C, threads=threads) for k in kernels], rounds=rounds)
    best = min(range(len(cands)), key=lambda i: t[i].median)
    return cands[best]


def run(args) -> dict:
    pair = args.pair
    a_dt, b_dt = pair_dtypes(pair)
    exact_k = f32_exact_k(pair)
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
            rng = np.random.default_rng(0)
            A = random_operand(rng, (n, n), a_dt)
            B = random_operand(rng, (n, n), b_dt)
            C = np.empty((n, n), np.int32)
            ref = exact_reference(A, B)
            kernel(A, B, C, threads=threads)
            assert np.array_equal(C, ref), "gemmtune's integer kernel is wrong: not timed"
            Af, Bf = A.astype(np.float32), B.astype(np.float32)
            names = ["gemmtune", "numpy f32"]
            fns = [lambda: kernel(A, B, C, threads=threads), lambda: Af @ Bf]
            if n <= args.numpy_int_max:
                A32, B32 = A.astype(np.int32), B.astype(np.int32)
                names.append("numpy int")
                fns.append(lambda: A32 @ B32)
            ort = onnx_matmul_integer(pair, threads)
            if ort is not None:
                assert np.array_equal(ort(A, B), ref), "onnxruntime's MatMulInteger is not exact here"
                names.append("onnxruntime")
                fns.append(lambda: ort(A, B))
            with pinned_threads(threads):
                timings = interleaved(fns, rounds=args.rounds, min_sample_seconds=0.05)
            ops = gemm_flops(n, n, n)
            row = {"n": n, "threads": threads, "params": params.to_dict(), "label": params.label(),
                   "f32_exact": n <= exact_k, "contenders": {}}
            for name, t in zip(names, timings):
                per = sorted(ops / s / 1e9 for s in t.samples)
                row["contenders"][name] = {"gops": ops / t.median / 1e9, "min": per[0], "max": per[-1],
                                           "samples": len(per), "repeats": t.repeats}
            g = row["contenders"]["gemmtune"]["gops"]
            row["ratios"] = {name: g / c["gops"] for name, c in row["contenders"].items() if name != "gemmtune"}
            rows.append(row)
            print(_line(row), flush=True)
    return {"pair": pair, "isas": list(available_isas()), "cpu": platform.processor() or platform.machine(),
            "f32_exact_max_k": exact_k, "rows": rows}


def _line(row: dict) -> str:
    c = row["contenders"]
    parts = [f"{row['n']:>5}^3 t={row['threads']} {row['label']:<40}"]
    for name, v in c.items():
        parts.append(f"{name} {v['gops']:7.1f} [{v['min']:.0f}-{v['max']:.0f}]")
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
