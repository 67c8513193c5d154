"""How a gemmtune kernel runs right after numpy's BLAS call, and what stops the collision.

OpenBLAS's worker threads keep spinning for a while after a call returns (its THREAD_TIMEOUT,
2^28 cycles by default), on the cores numba's threads need next. This script times, in one
process, per configuration of the float GEMM family:

- ``alone``: the kernel back to back;
- ``after``: a loop ``numpy @; kernel`` as users write it, each call timed on its own;

and numpy alone and in the same loop. Run it once per environment to compare (the settings
are read when the libraries load, so each needs its own process). ``import gemmtune`` makes
OpenBLAS's threads sleep right after each call unless ``OPENBLAS_THREAD_TIMEOUT`` is set
(gemmtune/spin.py), so the collision needs OpenBLAS's default asked for, e.g.::

    OPENBLAS_THREAD_TIMEOUT=28 python benchmarks/blas_collision.py 1536 float64 2
    python benchmarks/blas_collision.py 1536 float64 2
    NUMBA_THREADING_LAYER=workqueue python benchmarks/blas_collision.py 1536 float64 2

Prints one JSON line per configuration: medians in GFLOP/s with their IQR.

``python benchmarks/blas_collision.py loop 1536 float64 2`` times what a user gets after a
search instead: a loop alternating numpy's ``A @ B`` and ``gemmtune.matmul(A, B)`` (the
tuning in ``$GEMMTUNE_CACHE_DIR``), each call timed, and the ratio gemmtune / numpy.

``python benchmarks/blas_collision.py spin`` shows OpenBLAS's threads spinning after a call:
the CPU seconds this process burns during a 0.3 s sleep right after a 2-thread product
(0 unless ``OPENBLAS_THREAD_TIMEOUT=28`` asks for OpenBLAS's default).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time


def _summary(seconds: list[float], flops: float) -> dict:
    from gemmtune.measure import iqr

    g = [flops / s / 1e9 for s in seconds]
    return {"gflops": round(statistics.median(g), 1), "iqr": round(iqr(g), 1)}


def main(n: int = 1536, dtype: str = "float64", threads: int = 2, rounds: int = 15) -> None:
    import numpy as np

    from gemmtune.kernels.gemm import compile_kernel
    from gemmtune.kernels.params import KernelParams
    from gemmtune.measure import pinned_threads

    root = os.environ.get("GEMMTUNE_CACHE_DIR") or tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C1, C2 = np.empty((n, n), dtype), np.empty((n, n), dtype)
    flops = 2.0 * n ** 3
    base = dict(MR=14, NR=16, MC=112, KC=192, NC=2048, vec_bits=512, unroll=4) if dtype == "float64" \
        else dict(MR=14, NR=32, MC=168, KC=192, NC=4096, vec_bits=512, unroll=4)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER",
                                          "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    with pinned_threads(threads):
        for parallel in sys.argv[4].split(",") if len(sys.argv) > 4 else ("ic", "m", "n"):
            kernel = compile_kernel(KernelParams(**base, parallel=parallel), dtype, root)
            run = lambda: kernel(A, B, C2, threads=threads)  # noqa: E731
            run()
            np.matmul(A, B, out=C1)
            alone, np_alone, loop_np, loop_k, paused = [], [], [], [], []
            for _ in range(rounds):
                # Back to back after a pause: neither library's threads are spinning.
                time.sleep(0.3)
                t0 = time.perf_counter(); run(); alone.append(time.perf_counter() - t0)  # noqa: E702
                time.sleep(0.3)
                t0 = time.perf_counter(); np.matmul(A, B, out=C1)  # noqa: E702
                np_alone.append(time.perf_counter() - t0)
                # A user's loop: numpy then gemmtune, each timed on its own.
                for _ in range(2):
                    t0 = time.perf_counter(); np.matmul(A, B, out=C1)  # noqa: E702
                    t1 = time.perf_counter(); run(); t2 = time.perf_counter()  # noqa: E702
                    loop_np.append(t1 - t0); loop_k.append(t2 - t1)  # noqa: E702
                t0 = time.perf_counter(); np.matmul(A, B, out=C1)  # noqa: E702
                time.sleep(0.05)
                t1 = time.perf_counter(); run(); paused.append(time.perf_counter() - t1)  # noqa: E702
            import numba

            doc = {"n": n, "dtype": dtype, "threads": threads, "parallel": parallel, "env": env,
                   "threading_layer": numba.threading_layer() if parallel in ("ic", "jr") else "bands",
                   "kernel_alone": _summary(alone, flops), "numpy_alone": _summary(np_alone, flops),
                   "kernel_after_numpy": _summary(loop_k, flops),
                   "numpy_after_kernel": _summary(loop_np, flops),
                   "kernel_after_numpy_50ms": _summary(paused, flops),
                   "loop_ratio": round(statistics.median(loop_np) / statistics.median(loop_k), 3),
                   "load": os.getloadavg()[0]}
            print(json.dumps(doc), flush=True)


def user_loop(n: int, dtype: str, threads: int, rounds: int = 20) -> None:
    """numpy's @ then gemmtune.matmul, alternating, each call timed; medians and the ratio."""
    import numpy as np

    import gemmtune
    from gemmtune.measure import pinned_threads

    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    flops = 2.0 * n ** 3
    gemmtune.matmul(A, B, threads=threads)
    np_t, gt_t = [], []
    with pinned_threads(threads):
        for _ in range(rounds):
            t0 = time.perf_counter(); A @ B; t1 = time.perf_counter()  # noqa: E702
            gemmtune.matmul(A, B, threads=threads); t2 = time.perf_counter()  # noqa: E702
            np_t.append(t1 - t0); gt_t.append(t2 - t1)  # noqa: E702
    print(json.dumps({"n": n, "dtype": dtype, "threads": threads, "loop": "numpy @ then gemmtune.matmul",
                      "config": gemmtune.best_config(n, n, n, dtype, threads),
                      "numpy": _summary(np_t, flops), "gemmtune": _summary(gt_t, flops),
                      "ratio": round(statistics.median(np_t) / statistics.median(gt_t), 3),
                      "load": os.getloadavg()[0]}))


def spin() -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    A = np.random.rand(1536, 1536)
    burnt = []
    with threadpool_limits(2, user_api="blas"):
        A @ A
        for _ in range(5):
            time.sleep(1.0)   # the threads are asleep again
            A @ A
            c0 = time.process_time()
            time.sleep(0.3)
            burnt.append(round(time.process_time() - c0, 3))
    print(json.dumps({"OPENBLAS_THREAD_TIMEOUT": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
                      "cpu_seconds_in_0.3s_sleep_after_a_call": burnt, "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["spin"]:
        spin()
        sys.exit(0)
    if sys.argv[1:2] == ["loop"]:
        a = sys.argv[2:5]
        user_loop(int(a[0]) if a else 1536, a[1] if len(a) > 1 else "float64", int(a[2]) if len(a) > 2 else 2)
        sys.exit(0)
    args = sys.argv[1:4]
    main(int(args[0]) if args else 1536, args[1] if len(args) > 1 else "float64",
         int(args[2]) if len(args) > 2 else 2)
