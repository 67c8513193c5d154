"""A forked child multiplies (issue 14, item 3): after the parent ran a kernel on numba's
GNU OpenMP pool, which does not survive fork, the child runs each kernel's serial twin;
with a fork-safe layer (here workqueue, forced) it runs the kernel itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gemmtune.kernels.gemm import serial_twin
from gemmtune.kernels.params import KernelParams

SCRIPT = textwrap.dedent('''
    import multiprocessing, os, sys
    import numpy as np
    import gemmtune
    from gemmtune.kernels import gemm

    root, threads = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    A = rng.standard_normal((67, 45)).astype(np.float32)
    B = rng.standard_normal((45, 71)).astype(np.float32)
    want = A.astype(np.float64) @ B

    def ok(C):
        return bool(np.abs(C - want).max() < 1e-3)

    def work(i):
        C = gemmtune.matmul(A, B, cache_dir=root, threads=threads)
        return ok(C), gemm._forked_from_openmp

    assert ok(gemmtune.matmul(A, B, cache_dir=root, threads=threads))
    import numba

    # A product this small runs serially on one thread (no parallel launch at all): start
    # numba's pool here, as any parallel kernel of the program would have.
    @numba.njit(parallel=True)
    def touch(x):
        for i in numba.prange(x.size):
            x[i] += 1.0

    touch(np.zeros(64))
    print("layer", numba.threading_layer(), flush=True)
    pid = os.fork()
    if pid == 0:
        good, twin = work(0)
        grandchild = os.fork()  # and once more from the child
        if grandchild == 0:
            os._exit(0 if work(1)[0] else 3)
        _, status = os.waitpid(grandchild, 0)
        print("child", good, twin, os.waitstatus_to_exitcode(status), flush=True)
        os._exit(0 if good else 4)
    _, status = os.waitpid(pid, 0)
    print("child_exit", os.waitstatus_to_exitcode(status), flush=True)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("pool", pool.map_async(work, range(4)).get(timeout=300), flush=True)
    assert ok(gemmtune.matmul(A, B, cache_dir=root, threads=threads))  # the parent still can
    print("parent ok", flush=True)
''')


def _run(root, threads: int, **env: str) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root), str(threads)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GEMMTUNE_CACHE_DIR": str(root), **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "Terminating" not in proc.stderr
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines()}


@pytest.mark.parametrize("threads", [1, 2])
def test_fork_and_a_fork_pool_multiply_after_the_parent_did(compiled_root, threads):
    out = _run(compiled_root, threads)
    twin = out["layer"] == "omp"  # GNU OpenMP here; with tbb installed numba picks tbb
    assert out["child"] == f"True {twin} 0" and out["child_exit"] == "0"
    assert out["pool"] == str([(True, twin)] * 4)
    assert out["parent"] == "ok"


def test_with_a_fork_safe_layer_the_child_runs_the_kernel_itself(compiled_root):
    out = _run(compiled_root, 2, NUMBA_THREADING_LAYER="workqueue")
    assert out["layer"] == "workqueue"
    assert out["child"] == "True False 0" and out["pool"] == str([(True, False)] * 4)


def test_the_serial_twin_splits_c_as_the_parallel_loop_did():
    p = KernelParams(MR=4, NR=8, MC=8, KC=16, NC=16, parallel="ic", pack_a=False)
    assert serial_twin(p) == p.replace(parallel="m")
    assert serial_twin(p.replace(parallel="jr")) == p.replace(parallel="n")
    for serial in ("m", "n"):
        assert serial_twin(p.replace(parallel=serial)) == p.replace(parallel=serial)
