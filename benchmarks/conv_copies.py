"""im2col and col2im alone: milliseconds and GB/s of matrix per layer, NCHW, float32.

    python benchmarks/conv_copies.py [--threads 1,2] [--rounds 11] [--json FILE]
                                     [--layers 1,64,56,56,64,3,3,1,1 ...]

Every layer of the ResNet-50 suite that lowers by im2col (its 3x3 and 7x7 layers and the
stride-2 1x1 downsamples), unless ``--layers`` names others. Each copy runs as the passes
run it (``conv.im2col.im2col`` / ``col2im`` on the plan's first chunk, numba on the given
threads), the two timed in interleaved rounds (``gemmtune.measure.interleaved``). GB/s is
the im2col matrix's bytes over the time: the copies write (or read) that matrix once.

To compare two versions of the copies, run this file with ``PYTHONPATH`` at a checkout of
the other version: the copies are imported from whichever gemmtune is first on the path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", help="N,C,H,W,K,R,S[,stride,pad] (default: the "
                    "ResNet-50 suite's im2col layers)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--json", help="write every figure and sample here")
    args = ap.parse_args(argv)

    import gemmtune
    from gemmtune.conv import ConvSpec, conv2d_plan, load_conv_suite
    from gemmtune.conv.im2col import col2im, im2col, numba_threads
    from gemmtune.measure import interleaved, load_average

    if args.layers:
        layers = [(text, ConvSpec.parse(text)) for text in args.layers]
    else:
        layers = [(layer.name, layer.spec) for layer in load_conv_suite("resnet50")[1]]
    threads = [int(t) for t in args.threads.split(",")]
    print(f"gemmtune {gemmtune.__file__}, load average {load_average():.2f}; ms per call "
          f"(median of {args.rounds} interleaved rounds) and GB/s of the im2col matrix",
          file=sys.stderr)
    rows = []
    seen = set()
    for name, spec in layers:
        plan = conv2d_plan(spec, "float32")
        if plan.lowering != "im2col" or spec.layout != "NCHW" or spec in seen:
            continue
        seen.add(spec)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(spec.input_shape(), dtype=np.float32)
        P, Q = spec.output_hw()
        t0, t1 = plan.chunks[0]
        col = np.empty((spec.c * spec.r * spec.s, (t1 - t0) * Q), np.float32)
        dx = np.zeros_like(x)
        geometry = (t0, t1, P, Q, spec.r, spec.s, spec.stride, spec.padding, spec.dilation,
                    spec.groups)
        for t in threads:
            def run(fn, *arrays, t=t):
                def call():
                    with numba_threads(t):
                        fn(*arrays, "NCHW", *geometry)
                return call

            im, c2 = interleaved([run(im2col, x, col), run(col2im, col, dx)], rounds=args.rounds)
            row = {"layer": name, "spec": spec.label(), "threads": t, "matrix_bytes": col.nbytes,
                   "im2col_ms": im.median * 1e3, "col2im_ms": c2.median * 1e3,
                   "im2col_samples": im.samples, "col2im_samples": c2.samples}
            rows.append(row)
            print(f"{name:<16} {spec.label():<34} t{t}  im2col {row['im2col_ms']:6.3f} ms "
                  f"{col.nbytes / im.median / 1e9:5.1f} GB/s   col2im {row['col2im_ms']:6.3f} ms "
                  f"{col.nbytes / c2.median / 1e9:5.1f} GB/s", flush=True)
    for t in threads:
        mine = [r for r in rows if r["threads"] == t]
        if mine:
            print(f"{'total':<16} {len(mine)} layers{'':<25} t{t}  im2col "
                  f"{sum(r['im2col_ms'] for r in mine):6.3f} ms            col2im "
                  f"{sum(r['col2im_ms'] for r in mine):6.3f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "conv_copies", "gemmtune": gemmtune.__file__,
                       "rounds": args.rounds, "rows": rows,
                       "median_im2col_ms": statistics.median(r["im2col_ms"] for r in rows)
                       if rows else None}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
