"""Convolution layers in GFLOP/s: gemmtune.conv2d against numpy's idiom and onnxruntime's Conv.

    python benchmarks/conv_layers.py [--layers issue|resnet50|all] [--threads 1,2]
                                     [--dtype float32] [--rounds 7] [--output FILE.json]

Per layer (NCHW, float32 by default) and thread count, in interleaved rounds
(``gemmtune.measure.interleaved``: samples of >= 50 ms, A B C D A B C D ...):

- gemmtune: ``gemmtune.conv2d`` (im2col + ``gemmtune.matmul`` with the configuration the
  cache dir holds for each GEMM: tuned, nearest tuned, or the ISA family's seed);
- numpy: ``sliding_window_view`` of the padded input, strided, then ``tensordot`` with the
  filters (BLAS pinned with threadpoolctl; ``gemmtune.bench.peers.numpy_conv``);
- onnxruntime: one Conv node, ``intra_op_num_threads`` = threads (``gemmtune.bench.peers``;
  skipped when onnxruntime and onnx, the ``peers`` extra, are not installed);
- backward: ``gemmtune.conv2d_backward``; reported as its time over gemmtune's forward time.

Printed: the median GFLOP/s of each with half its IQR, the ratios gemmtune/onnxruntime and
gemmtune/numpy (medians of the per-round ratios), the lowering and its buffer, and for a
suite the median of the per-layer ratios. The GEMM cache dir is ``--cache-dir``, else
``$GEMMTUNE_CACHE_DIR``, else a fresh temporary dir (nothing tuned: seed kernels).
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

ISSUE_LAYERS = [
    ("N1 C128 28x28 K128 3x3 p1", "1,128,28,28,128,3,3,1,1"),
    ("N1 C64 56x56 K64 3x3 p1", "1,64,56,56,64,3,3,1,1"),
    ("N8 C256 14x14 K256 3x3 p1", "8,256,14,14,256,3,3,1,1"),
    ("N1 C256 56x56 K64 1x1", "1,256,56,56,64,1,1,1,0"),
]


def onnx_session(spec, w, threads):
    """onnxruntime's one Conv node with weights w (``gemmtune.bench.peers``), or None when the
    peers extra is missing or has no Conv for this dtype."""
    from gemmtune.bench.peers import PeerUnavailable, conv

    try:
        run = conv(spec, w, threads)
    except PeerUnavailable as e:
        print(f"onnxruntime skipped: {e}", file=sys.stderr)
        return None
    return run


def median_ratio(a, b):
    """Median over rounds of b[i] / a[i] (a, b: seconds per call), i.e. a's speed-up over b."""
    return statistics.median(bi / ai for ai, bi in zip(a, b))


def bench_layer(name, spec, dtype, threads, rounds, cache_dir, backward):
    import gemmtune
    from gemmtune.conv import conv2d_plan
    from gemmtune.conv.reference import check_conv, conv2d_ref
    from gemmtune.measure import interleaved, pinned_threads

    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec.input_shape()).astype(dtype)
    w = rng.standard_normal(spec.weight_shape()).astype(dtype)
    gy = rng.standard_normal(spec.output_shape()).astype(dtype)
    kw = {"stride": spec.stride, "padding": spec.padding, "dilation": spec.dilation,
          "groups": spec.groups, "layout": spec.layout}
    fns = {"gemmtune": lambda: gemmtune.conv2d(x, w, **kw, threads=threads, cache_dir=cache_dir)}
    if spec.groups == 1 and spec.layout == "NCHW":
        from gemmtune.bench.peers import numpy_conv

        npconv = numpy_conv(spec)
        fns["numpy"] = lambda: npconv(x, w)
    sess = onnx_session(spec, w, threads)
    if sess is not None:
        fns["onnxruntime"] = lambda: sess(x)
    if backward:
        fns["backward"] = lambda: conv2d_backward(x, w, gy)

        def conv2d_backward(x, w, gy):
            return gemmtune.conv2d_backward(x, w, gy, **kw, threads=threads, cache_dir=cache_dir)
    with pinned_threads(threads):
        y = fns["gemmtune"]()
        if spec.n * spec.k * spec.c * spec.h * spec.w <= 8 * 256 * 256 * 28 * 28:
            # Right before fast: one check against the float64 oracle per layer.
            terms = spec.c // spec.groups * spec.r * spec.s
            v = check_conv(y, conv2d_ref(x, w, spec), float(np.abs(x).max()), float(np.abs(w).max()), terms)
            if not v.ok:
                raise SystemExit(f"{name}: gemmtune.conv2d is wrong: {v.reason}")
        for peer in ("numpy", "onnxruntime"):
            if peer in fns:
                got = fns[peer]()
                err = float(np.max(np.abs(got - y))) / max(float(np.max(np.abs(y))), 1e-30)
                if err > 1e-4:
                    raise SystemExit(f"{name}: {peer} and gemmtune differ by {err:.2g} (relative).")
        names = list(fns)
        timings = dict(zip(names, interleaved([fns[n] for n in names], rounds=rounds)))
    flops = spec.flops()
    plan = conv2d_plan(spec, dtype)
    row = {"name": name, "spec": spec.to_dict(), "label": spec.label(), "threads": threads,
           "dtype": dtype, "lowering": plan.lowering, "buffer_bytes": plan.buffer_bytes,
           "gemms": [g.to_dict() for g in plan.gemms["forward"]], "flops": flops}
    for n, t in timings.items():
        if n == "backward":
            continue
        row[n] = {"gflops": t.gflops(flops), "gflops_half_iqr": t.gflops_iqr(flops) / 2,
                  "unstable": t.unstable, "samples": t.samples}
    g = timings["gemmtune"].samples
    for peer in ("onnxruntime", "numpy"):
        if peer in timings:
            row[f"vs_{peer}"] = median_ratio(g, timings[peer].samples)
    if "backward" in timings:
        row["backward_over_forward"] = median_ratio(g, timings["backward"].samples)
        row["backward"] = {"seconds": timings["backward"].median, "samples": timings["backward"].samples}
    return row


def fmt(row, key):
    if key not in row:
        return "-"
    r = row[key]
    return f"{r['gflops']:.1f}±{r['gflops_half_iqr']:.1f}" + ("?" if r["unstable"] else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="all", choices=["issue", "resnet50", "all"])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-backward", action="store_true")
    ap.add_argument("--cache-dir", default=os.environ.get("GEMMTUNE_CACHE_DIR"))
    ap.add_argument("--output", default=None, help="write every figure and sample as JSON here")
    args = ap.parse_args()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-conv-")

    from gemmtune.conv import ConvSpec, load_conv_suite
    from gemmtune.fingerprint import fingerprint_id

    layers = []
    if args.layers in ("issue", "all"):
        layers += [("issue", name, ConvSpec.parse(text)) for name, text in ISSUE_LAYERS]
    if args.layers in ("resnet50", "all"):
        layers += [("resnet50", layer.name, layer.spec) for layer in load_conv_suite("resnet50")[1]]
    load = os.getloadavg()[0]
    print(f"{args.dtype}, {args.rounds} interleaved rounds, cache dir {cache_dir}, "
          f"fingerprint {fingerprint_id()}, load average {load:.2f}", file=sys.stderr)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        print(f"\n{threads} thread(s): GFLOP/s (median ± half IQR; ? = IQR > 10%)")
        print(f"{'layer':<28} {'lowering':<8} {'buffer':>8} {'gemmtune':>11} {'onnxrt':>11} "
              f"{'numpy':>11} {'/onnxrt':>7} {'/numpy':>7} {'bwd/fwd':>7}")
        for group, name, spec in layers:
            t0 = time.perf_counter()
            row = bench_layer(name, spec, args.dtype, threads, args.rounds, cache_dir, not args.no_backward)
            row["group"] = group
            rows.append(row)
            print(f"{name:<28} {row['lowering']:<8} {row['buffer_bytes'] / 2**20:>7.1f}M "
                  f"{fmt(row, 'gemmtune'):>11} {fmt(row, 'onnxruntime'):>11} {fmt(row, 'numpy'):>11} "
                  f"{row.get('vs_onnxruntime', float('nan')):>7.2f} {row.get('vs_numpy', float('nan')):>7.2f} "
                  f"{row.get('backward_over_forward', float('nan')):>7.2f}", flush=True)
            row["wall_seconds"] = time.perf_counter() - t0
        suite = [r for r in rows if r["threads"] == threads and r["group"] == "resnet50"]
        if suite:
            def med(key):
                vals = [r[key] for r in suite if key in r]
                return statistics.median(vals) if vals else float("nan")
            print(f"{'resnet50 median (' + str(len(suite)) + ' layers)':<48} "
                  f"{statistics.median(r['gemmtune']['gflops'] for r in suite):>11.1f} "
                  f"{med('vs_onnxruntime'):>31.2f} {med('vs_numpy'):>7.2f} {med('backward_over_forward'):>7.2f}")
    if args.output:
        import numba
        import onnxruntime  # noqa: F401 - recorded only when installed
        from threadpoolctl import threadpool_info

        doc = {"benchmark": "conv_layers", "dtype": args.dtype, "rounds": args.rounds,
               "cache_dir": cache_dir, "fingerprint": fingerprint_id(), "load_average_start": load,
               "machine": platform.processor() or platform.machine(), "numpy": np.__version__,
               "numba": numba.__version__, "onnxruntime": onnxruntime.__version__,
               "blas": [i.get("internal_api") + " " + str(i.get("version")) for i in threadpool_info()],
               "rows": rows}
        with open(args.output, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
