"""bench's tuned figure is what a user's loop gets: ``gemmtune.matmul`` right after numpy's ``@``."""

from __future__ import annotations

import statistics
import time

import numpy as np

from gemmtune.bench.run import Workload, compare
from gemmtune.cache import Entry, TuningCache, make_provenance
from gemmtune.defaults import default_params
from gemmtune.fingerprint import fingerprint_id
from gemmtune.measure import iqr, pinned_threads
from gemmtune.problem import Problem
from tests.conftest import with_session_kernels

N = 64


def user_loop_gflops(root, calls: int = 400, rounds: int = 5) -> float:
    """The loop users write: numpy's product, then gemmtune's, each gemmtune call timed."""
    import gemmtune

    rng = np.random.default_rng(1)
    A = rng.standard_normal((N, N)).astype("float32")
    B = rng.standard_normal((N, N)).astype("float32")
    C1, C2 = np.empty((N, N), "float32"), np.empty((N, N), "float32")
    gemmtune.matmul(A, B, out=C2, threads=1, cache_dir=root)
    per_round = []
    with pinned_threads(1):
        for _ in range(rounds):
            took = 0.0
            for _ in range(calls):
                np.matmul(A, B, out=C1)
                t0 = time.perf_counter()
                gemmtune.matmul(A, B, out=C2, threads=1, cache_dir=root)
                took += time.perf_counter() - t0
            per_round.append(2.0 * N**3 * calls / took / 1e9)
    return statistics.median(per_round)


def test_bench_and_a_loop_alternating_numpy_and_gemmtune_agree(tmp_path, compiled_root):
    with_session_kernels(tmp_path, compiled_root)
    tuned = default_params("float32")
    tuned = type(tuned).from_dict({**tuned.to_dict(), "KC": 128})
    TuningCache(tmp_path).put(Entry(fingerprint_id(), Problem(N, N, N, "float32", 1), tuned.to_dict(),
                                    {"gflops": 1.0}, make_provenance(sampler="test")))
    # The machine is shared and its load moves within seconds: bench and the loop run in
    # alternation, seven times each, and their medians are compared.
    bench, loop, alone = [], [], []
    for _ in range(7):
        row = compare(Workload(str(N), N, N, N), "float32", 1, tmp_path, rounds=3, sample_seconds=0.05)
        assert row["tuned"]["source"] == "exact" and row["tuned"]["timed"].startswith("gemmtune.matmul")
        bench.append(row["tuned"]["gflops"])
        alone.append(row["tuned"]["kernel"]["gflops"])   # the kernel alone, reported beside it
        loop.append(user_loop_gflops(tmp_path, rounds=3))
    ratio = statistics.median(bench) / statistics.median(loop)
    # Within 10%; on a machine whose load moves the loop's own figure by more than that, within
    # twice the loop's own relative spread (IQR over median) across the seven runs.
    spread = iqr(loop) / statistics.median(loop)
    print(f"bench tuned {statistics.median(bench):.2f}, kernel alone {statistics.median(alone):.2f}, "
          f"loop {statistics.median(loop):.2f} GFLOP/s, loop spread {100 * spread:.0f}%")
    assert abs(ratio - 1.0) <= max(0.10, 2 * spread), f"bench {bench} against the loop {loop}"
