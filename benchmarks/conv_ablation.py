"""conv2d and conv2d_backward with one of their overhead cuts undone, interleaved in one process.

    python benchmarks/conv_ablation.py [--rounds 15] [--layers N,C,H,W,K,R,S,stride,pad,dilation,groups ...]

Each cut is undone by swapping one function of ``gemmtune.conv`` for the code it replaced:

- ``group loop``: one ``matmul`` call per group instead of one stacked call
  (``forward.group_matmul``);
- ``plan uncached``: ``conv2d_plan`` computed on every call.

Printed per layer and pass: the median milliseconds of the current code, and each variant's
time over it (the median of the per-round ratios; 1 thread, ``gemmtune.measure.interleaved``:
the variants alternate in every round, so a change of the machine's load lands on all of
them), with the load average.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import contextmanager

import numpy as np

DEFAULT_LAYERS = ["1,64,56,56,64,3,3,1,1,1,1", "1,256,56,56,64,1,1,1,0,1,1",
                  "1,64,56,56,64,3,3,1,1,1,64", "1,128,28,28,128,3,3,1,1,1,32"]


@contextmanager
def undone(name: str):
    from gemmtune.conv import backward, forward, plan

    if name == "group loop":
        saved = forward.group_matmul

        def loop(a, b, out=None, *, beta=0.0, threads=None, cache_dir=None):
            from gemmtune.api import matmul

            if out is None:
                out = np.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
            for g in range(a.shape[0]):
                matmul(a[g], b[g], out[g], beta=beta, threads=threads, cache_dir=cache_dir)
            return out

        forward.group_matmul = loop
        try:
            yield
        finally:
            forward.group_matmul = saved
    elif name == "plan uncached":
        saved = plan._plan
        plan._plan = plan._plan.__wrapped__
        try:
            yield
        finally:
            plan._plan = saved
    else:
        yield
    del backward  # imported so that both passes are loaded before timing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", default=DEFAULT_LAYERS)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    import gemmtune
    from gemmtune.conv import ConvSpec
    from gemmtune.measure import interleaved, load_average

    variants = ["current", "group loop", "plan uncached"]
    for text in args.layers:
        spec = ConvSpec.parse(text)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(spec.input_shape(), dtype=np.float32)
        w = rng.standard_normal(spec.weight_shape(), dtype=np.float32)
        gy = rng.standard_normal(spec.output_shape(), dtype=np.float32)
        kw = dict(stride=spec.stride, padding=spec.padding, dilation=spec.dilation,
                  groups=spec.groups, threads=1)
        names = [v for v in variants if v != "group loop" or spec.groups > 1]
        fns = []
        for direction in ("forward", "backward"):
            for v in names:
                def run(v=v, direction=direction):
                    with undone(v):
                        if direction == "forward":
                            gemmtune.conv2d(x, w, **kw)
                        else:
                            gemmtune.conv2d_backward(x, w, gy, **kw)
                fns.append(run)
        load = load_average()
        with threadpool_limits(1):
            timings = interleaved(fns, rounds=args.rounds, min_sample_seconds=0.05)
        print(f"{spec.label()} (load average {load}, 1 thread, ms, medians)")
        for i, direction in enumerate(("forward", "backward")):
            row = timings[i * len(names):(i + 1) * len(names)]
            cells = [f"current {row[0].median * 1e3:.3f} ms"]
            for v, t in zip(names[1:], row[1:]):
                # The median of the per-round ratios: a load spike hits one round of each.
                ratio = statistics.median(a / b for a, b in zip(t.samples, row[0].samples))
                cells.append(f"{v} x{ratio:.2f}")
            print(f"  {direction:<9} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
