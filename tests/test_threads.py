"""matmul's default thread count: NUMBA_NUM_THREADS, threadpoolctl limits, OMP_NUM_THREADS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy  # noqa: F401 (numpy's BLAS is what these tests ask; it must be loaded)
import pytest
from threadpoolctl import threadpool_limits

from gemmtune import threads as th
from gemmtune.fingerprint import usable_cores

MULTICORE = pytest.mark.skipif(usable_cores() < 2, reason="needs 2 usable cores to see a limit")


@MULTICORE
def test_threadpool_limits_lower_the_default_and_lifting_them_restores_it():
    before = th.default_threads()
    assert before == min(usable_cores(), th.numba_threads(), th.blas_threads() or before)
    assert before >= 2
    with threadpool_limits(1):
        assert th.blas_threads() == 1 and th.default_threads() == 1
        with threadpool_limits(1, user_api="blas"):
            assert th.default_threads() == 1
    assert th.default_threads() == before


def test_no_blas_to_ask_falls_back_to_the_environment(monkeypatch):
    monkeypatch.setattr(th, "_blas_getters", [])
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert th.blas_threads() == 1 and th.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")   # nested OpenMP levels: the outer one
    assert th.blas_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert th.blas_threads() is None
    assert th.default_threads() == min(usable_cores(), th.numba_threads())


def test_a_blas_that_fails_to_answer_is_ignored(monkeypatch):
    def broken():
        raise OSError("symbol not found")

    monkeypatch.setattr(th, "_blas_getters", [broken, lambda: None])
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert th.blas_threads() is None and th.default_threads() >= 1


def test_reading_the_limit_is_cheap():
    th.default_threads()   # finds the BLAS once
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        th.default_threads()
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 200e-6, f"{per_call * 1e6:.0f} us per call"   # not a library scan (ms)


CHILD = r"""
import json, sys
import numpy as np
import gemmtune
from gemmtune import api
from threadpoolctl import threadpool_limits
A = np.arange(12 * 12, dtype=np.float32).reshape(12, 12) / 100
C = gemmtune.matmul(A, A, cache_dir=sys.argv[1])
ok = bool(np.allclose(C, A.astype(np.float64) @ A, rtol=1e-5))
with threadpool_limits(1):
    limited = api._default_threads()
print(json.dumps({"ok": ok, "default": api._default_threads(), "limited": limited}))
"""


def _child(env_extra: dict[str, str], root) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                        "GEMMTUNE_TEST_FAULT")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CHILD, str(root)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numba_num_threads_1_runs_on_one_thread(compiled_root):
    """The issue's report: NUMBA_NUM_THREADS=1 made matmul raise "threads=2 is outside 1..1"."""
    doc = _child({"NUMBA_NUM_THREADS": "1"}, compiled_root)
    assert doc == {"ok": True, "default": 1, "limited": 1}


@MULTICORE
def test_omp_num_threads_is_followed_as_numpy_s_blas_follows_it(compiled_root):
    doc = _child({"OMP_NUM_THREADS": "1"}, compiled_root)
    assert doc["ok"] and doc["default"] == 1


@MULTICORE
@pytest.mark.parametrize("var", ["NUMBA_NUM_THREADS", "OMP_NUM_THREADS"])
def test_command_line_defaults_follow_the_same_rule(tmp_path, var):
    """`gemmtune search` and `cache show` default to the thread count matmul will look its
    tuning up with (here, before numba is imported)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env.update({var: "1", "GEMMTUNE_CACHE_DIR": str(tmp_path), "NO_COLOR": "1"})
    out = subprocess.run([sys.executable, "-m", "gemmtune", "cache", "show", "-m", "8", "-n", "8",
                          "-k", "8"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "No tuning for 8x8x8 float32 1t" in out.stderr, out.stderr


def test_import_stops_openblas_spinning_unless_the_user_chose():
    """OPENBLAS_THREAD_TIMEOUT is set before numpy loads (OpenBLAS reads it once), a value
    the user set is kept, and an OpenBLAS numpy loaded first is made to re-read it."""
    code = ("{pre}import gemmtune, os; from gemmtune.spin import blas_thread_timeout; "
            "print(blas_thread_timeout()['source'], os.environ.get('OPENBLAS_THREAD_TIMEOUT'))")

    def run(pre="", **extra):
        return _fresh_python(code.format(pre=pre), ("OPENBLAS_THREAD_TIMEOUT",), extra)

    assert run() == "set by gemmtune 4"
    assert run(OPENBLAS_THREAD_TIMEOUT="8") == "set by the user 8"
    assert run(OPENBLAS_THREAD_TIMEOUT="8", pre="import numpy; ") == "set by the user 8"
    restarted = run(pre="import numpy; ")
    if not _numpy_openblas():
        assert restarted == "None None"  # no OpenBLAS to restart: nothing is changed
    else:
        assert restarted == "set by gemmtune (OpenBLAS restarted) 4"


def _numpy_openblas() -> bool:
    return _fresh_python("import numpy, gemmtune.spin as s; print(bool(s._openblas_paths()))",
                         (), {}) == "True"


_SPIN = """
import numpy as np, time
{pre}
a = np.ones((384, 384))
for _ in range(3):
    a @ a
t = time.process_time()
time.sleep(0.05)
print(time.process_time() - t)
"""


@MULTICORE
@pytest.mark.quiet_cores
def test_openblas_threads_loaded_before_gemmtune_stop_spinning_after_a_call():
    """The restart takes effect: right after numpy's 2-thread product, OpenBLAS's idle
    thread burns CPU for the next 50 ms without gemmtune (its default 0.1 s spin) and not
    after ``import gemmtune``."""
    if not _numpy_openblas():
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    env = {"OPENBLAS_NUM_THREADS": "2"}
    unset = ("OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS")
    spinning = float(_fresh_python(_SPIN.format(pre=""), unset, env))
    quiet = float(_fresh_python(_SPIN.format(pre="import gemmtune"), unset, env))
    assert spinning > 0.02, f"OpenBLAS did not spin here ({spinning:.3f} s of CPU in 50 ms)"
    assert quiet < 0.01, f"{quiet:.3f} s of CPU in a 50 ms sleep after import gemmtune"


def test_import_shortens_the_openmp_spin_unless_the_user_chose():
    """GOMP_SPINCOUNT is set by ``import gemmtune`` before numba loads libgomp (which reads it
    once), a value or wait policy the user set is kept, and nothing is set once libgomp is
    loaded (it would not apply)."""
    code = ("{pre}import gemmtune, os; from gemmtune.spin import omp_spin; "
            "print(omp_spin()['source'], os.environ.get('GOMP_SPINCOUNT'))")

    def run(pre="", **extra):
        return _fresh_python(code.format(pre=pre), ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"), extra)

    assert run() == "set by gemmtune 10000"
    assert run(GOMP_SPINCOUNT="7") == "set by the user 7"
    assert run(OMP_WAIT_POLICY="passive") == "set by the user None"
    loaded = ("from numba import njit, prange; import numpy as np; "
              "njit(parallel=True)(lambda a: [a[i] for i in prange(2)])(np.zeros(2)); ")
    assert run(pre=loaded) == "None None"


def _fresh_python(code: str, unset: tuple[str, ...], extra: dict[str, str]) -> str:
    """stdout of ``python -c code`` in this environment without ``unset``, plus ``extra``."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, **extra}, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
