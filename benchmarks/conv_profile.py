"""Where a convolution's time goes: conv2d and conv2d_backward against their parts, timed alone.

    python benchmarks/conv_profile.py [--layers 1,64,56,56,64,3,3,1,1 1,256,56,56,64,1,1,1,0]
                                      [--threads 1] [--rounds 7] [--stat median|min]
                                      [--cache-dir DIR] [--json]

For each layer (NCHW, float32, batch 1, groups 1) the whole passes and each piece they run
are timed in interleaved rounds (``gemmtune.measure.interleaved``): im2col, the GEMMs through
``gemmtune.matmul`` on the operands the passes give them, col2im, the copies (grad_y
transposed for the weight gradient, the filters transposed, the zeroed grad_x) and the bias
gradient. "rest" is the pass minus its pieces: argument checks, the plan, allocation and
Python between the calls. The pieces are re-created here from the plan, so a change of the
passes must be mirrored below; the totals are always the real ``conv2d`` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

DEFAULT_LAYERS = ["1,64,56,56,64,3,3,1,1", "1,256,56,56,64,1,1,1,0"]


def pieces(spec, threads, cache_dir):
    """{name: (pass, callable)} for one NCHW, batch-1, groups-1 layer, as the passes run them."""
    import gemmtune
    from gemmtune.conv import conv2d_plan
    from gemmtune.conv.backward import _bias_grad
    from gemmtune.conv.im2col import col2im, im2col, numba_threads

    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec.input_shape(), dtype=np.float32)
    w = rng.standard_normal(spec.weight_shape(), dtype=np.float32)
    gy = rng.standard_normal(spec.output_shape(), dtype=np.float32)
    plan = conv2d_plan(spec, x.dtype)
    P, Q = spec.output_hw()
    L = P * Q
    taps = spec.c * spec.r * spec.s
    geometry = (0, P, P, Q, spec.r, spec.s, spec.stride, spec.padding, spec.dilation, 1)
    kw = dict(stride=spec.stride, padding=spec.padding, threads=threads, cache_dir=cache_dir)
    col = np.empty((taps, L), np.float32) if plan.lowering == "im2col" else x[0].reshape(taps, L)
    if plan.lowering == "im2col":
        im2col(x, col, "NCHW", *geometry)
    wm = w.reshape(spec.k, taps)
    y2 = np.empty((spec.k, L), np.float32)
    dy = gy.reshape(spec.k, L)
    mm = dict(threads=threads, cache_dir=cache_dir)
    out = {
        "forward": ("forward", lambda: gemmtune.conv2d(x, w, **kw)),
        "backward": ("backward", lambda: gemmtune.conv2d_backward(x, w, gy, **kw)),
        "fwd GEMM": ("forward", lambda: gemmtune.matmul(wm, col, out=y2, **mm)),
        "bias grad": ("backward", lambda: _bias_grad(gy, spec)),
        "filters^T copy": ("backward", lambda: np.ascontiguousarray(wm.T)),
    }
    if plan.lowering == "im2col":
        out["buffer"] = ("forward", lambda: np.empty(plan.buffer_bytes // 4, np.float32).fill(0))
    if plan.lowering == "im2col":
        def lowered(fn, *arrays):
            def run():
                with numba_threads(threads):  # as the passes run them
                    fn(*arrays, "NCHW", *geometry)
            return run

        gx = np.zeros_like(x)
        out["zeroed grad_x"] = ("backward", lambda: np.zeros(x.shape, x.dtype))
        out["im2col"] = ("forward", lowered(im2col, x, col))
        out["im2col again"] = ("backward", lowered(im2col, x, col))  # the weight gradient's
        out["buffer again"] = ("backward", out["buffer"][1])
        out["col2im"] = ("backward", lowered(col2im, col, gx))
    wt = np.ascontiguousarray(wm.T)
    dcol = np.empty((taps, L), np.float32)
    out["data GEMM"] = ("backward", lambda: gemmtune.matmul(wt, dy, out=dcol, **mm))
    if plan.weight_grad_transposes == "dy":
        dyt = np.ascontiguousarray(dy.T)
        dwt = np.empty((taps, spec.k), np.float32)
        out["grad_y^T copy"] = ("backward", lambda: np.ascontiguousarray(dy.T))
        out["weight GEMM"] = ("backward", lambda: gemmtune.matmul(col, dyt, out=dwt, **mm))
    else:
        colt = np.ascontiguousarray(col.T)
        dw = np.empty((spec.k, taps), np.float32)
        out["col^T copy"] = ("backward", lambda: np.ascontiguousarray(col.T))
        out["weight GEMM"] = ("backward", lambda: gemmtune.matmul(dy, colt, out=dw, **mm))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", default=DEFAULT_LAYERS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cache-dir", default=os.environ.get("GEMMTUNE_CACHE_DIR"))
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="per piece, the median sample or the fastest (on a shared machine the "
                         "fastest is the least disturbed by other work)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from gemmtune.conv import ConvSpec
    from gemmtune.measure import interleaved, load_average

    docs = []
    with threadpool_limits(args.threads):
        for text in args.layers:
            spec = ConvSpec.parse(text)
            if spec.n != 1 or spec.groups != 1 or spec.layout != "NCHW":
                # pieces() re-creates the passes' parts for one image and one group.
                print(f"conv_profile.py: {text} is not a batch-1, groups-1 NCHW layer, the only "
                      "kind it profiles.", file=sys.stderr)
                return 2
            parts = pieces(spec, args.threads, args.cache_dir)
            names = list(parts)
            load = load_average()
            timings = interleaved([parts[n][1] for n in names], rounds=args.rounds,
                                  min_sample_seconds=0.05)
            pick = (lambda t: t.median) if args.stat == "median" else (lambda t: min(t.samples))
            ms = {n: pick(t) * 1e3 for n, t in zip(names, timings)}
            doc = {"layer": spec.label(), "load_average": load, "threads": args.threads,
                   "stat": args.stat, "ms": ms}
            for total in ("forward", "backward"):
                rest = ms[total] - sum(ms[n] for n in names if parts[n][0] == total and n != total)
                doc["ms"][f"{total} rest"] = rest
            docs.append(doc)
            if not args.json:
                print(f"{spec.label()}  (load average {load}, {args.threads} thread(s), ms, "
                      f"{args.stat} of {args.rounds} samples)")
                for total in ("forward", "backward"):
                    print(f"  {total:<16} {ms[total]:8.3f}")
                    for n in names:
                        if parts[n][0] == total and n != total:
                            print(f"    {n:<16} {ms[n]:8.3f}  {100 * ms[n] / ms[total]:5.1f}%")
                    r = doc["ms"][f"{total} rest"]
                    print(f"    {'rest':<16} {r:8.3f}  {100 * r / ms[total]:5.1f}%")
                print(f"  backward/forward {ms['backward'] / ms['forward']:.2f}")
    if args.json:
        json.dump(docs, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
