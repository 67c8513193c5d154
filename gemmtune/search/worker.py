"""Compile, verify and time one candidate, isolated in a worker process.

A generated kernel can crash the interpreter or never return; neither may end a search.
So the search talks to ``python -m gemmtune.search.worker``: one JSON request per line on
its stdin, one JSON result per line on its stdout. The parent (``Worker``) enforces a time
limit per candidate, kills a worker that overruns, and reports a crash (nonzero exit or a
signal) or a hang as a failed candidate with the reason. One worker lives across
candidates, because starting Python and importing numba costs a second or two; it is
restarted after a crash or a timeout.

``evaluate`` is the objective itself and also runs in-process (benchmarks/record_space.py).

For tests, ``GEMMTUNE_TEST_FAULT`` injects faults by trial number: ``crash@0,hang@1,wrong@2``
makes trial 0 crash the worker, trial 1 hang and trial 2 return a wrong result.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

ENV_FAULT = "GEMMTUNE_TEST_FAULT"
ENV_PARENT = "GEMMTUNE_WORKER_PARENT"   # the pid of the search that started the worker
_kernels: dict[tuple, Any] = {}
# numpy's calls per sample for each problem, kept across the candidates a worker times:
# numpy is warm after the first one, so its warm-up and calibration need not be repeated.
_numpy_repeats: dict[tuple, int] = {}
EARLY_STOP_RATIO = 0.5   # first samples below half the best so far: hopeless, stop timing


def fault_for(trial: int | None, spec: str | None = None) -> str | None:
    """The fault ``GEMMTUNE_TEST_FAULT`` asks for on ``trial`` (None: run normally)."""
    spec = os.environ.get(ENV_FAULT, "") if spec is None else spec
    for item in filter(None, (s.strip() for s in spec.split(","))):
        kind, _, at = item.partition("@")
        if at == "" or (trial is not None and at.isdigit() and int(at) == trial):
            return kind
    return None


def kernel_for(params: Any, dtype: str, root: str | None) -> Any:
    """The compiled kernel, one object per kernel for the life of the worker (a numba
    dispatcher is compiled once and then sealed, so it must not be compiled twice)."""
    from ..kernels.gemm import compile_kernel

    key = (params.key(), dtype, root)
    if key not in _kernels:
        _kernels[key] = compile_kernel(params, dtype, root)
    return _kernels[key]


def evaluate(request: dict[str, Any]) -> dict[str, Any]:
    """Compile, verify and time the candidate described by ``request``; never raises.

    Request keys: ``params`` (KernelParams dict), ``problem`` (Problem dict), ``root``
    (cache dir for compiled kernels), optional ``samples``, ``min_sample_seconds``,
    ``best_gflops`` (enables the early stop), ``verify`` (default true), ``trial``, and
    ``reference_gflops`` (numpy's figure for the study, which makes the timing paired).

    Paired timing: the kernel runs in rounds interleaved with numpy's product, and each
    round's figure is the kernel's speed relative to numpy's in that round, times
    ``reference_gflops``. A slow period of the host lands on both sides of a round, so
    candidates measured minutes apart are ranked on the same scale (on the replay tables
    this halved how much two passes of one kernel differ, docs/search.md).

    Returns a dict with ``status`` "ok", "failed" or "pruned", ``reason`` and, as far as it
    got, ``compile_seconds``, ``residual``, ``gflops``, ``gflops_iqr``, ``samples``,
    ``repeats``, ``unstable``; paired, also ``numpy_gflops`` (numpy's own median in these
    rounds) and ``numpy_ratio`` (the median per-round ratio to it).
    """
    import numpy as np

    from ..kernels.params import KernelParams
    from ..kernels.reference import verify_kernel
    from ..measure import gemm_flops, iqr, is_unstable, pinned_threads
    from ..problem import Problem

    out: dict[str, Any] = {"status": "failed", "reason": ""}
    try:
        params = KernelParams.from_dict(request["params"])
        problem = Problem.from_dict(request["problem"])
        params.validate(problem.dtype)
    except (KeyError, ValueError, TypeError) as e:
        out["reason"] = f"bad request: {e}"
        return out
    fault = fault_for(request.get("trial"))
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "hang":
        while True:
            time.sleep(3600)
    try:
        t0 = time.perf_counter()
        kernel = kernel_for(params, problem.dtype, request.get("root"))
        # numba compiles (or loads from its disk cache) on the first call per signature.
        one = np.ones((1, 1), dtype=problem.dtype)
        kernel(one, one, np.empty((1, 1), dtype=problem.dtype), threads=1)
        out["compile_seconds"] = time.perf_counter() - t0
    except Exception as e:  # a generator or compiler error is this candidate's failure
        out["reason"] = f"compile failed: {type(e).__name__}: {e}"
        return out
    if fault == "wrong":
        real = kernel

        def kernel(A, B, C=None, **kw):  # noqa: F811 - the corrupted stand-in
            C = real(A, B, C, **kw)
            C.flat[-1] += 1.0
            return C
    with pinned_threads(problem.threads):
        if request.get("verify", True):
            verdict = verify_kernel(kernel, problem.m, problem.n, problem.k, problem.dtype,
                                    problem.threads)
            out["residual"] = verdict.residual
            if not verdict.ok:
                out["reason"] = f"wrong result: {verdict.reason}"
                return out
        rng = np.random.default_rng(1)
        A = rng.standard_normal((problem.m, problem.k)).astype(problem.dtype)
        B = rng.standard_normal((problem.k, problem.n)).astype(problem.dtype)
        C = np.empty((problem.m, problem.n), dtype=problem.dtype)
        flops = gemm_flops(problem.m, problem.n, problem.k)
        run = lambda: kernel(A, B, C, threads=problem.threads)  # noqa: E731
        samples = int(request.get("samples", 5))
        min_sample = float(request.get("min_sample_seconds", 0.05))
        reference = request.get("reference_gflops")
        best = request.get("best_gflops")
        if reference:
            figures, stopped = _time_paired(run, lambda: np.matmul(A, B, out=C), flops,
                                            float(reference), samples, min_sample, best, out,
                                            numpy_key=(problem.label(), min_sample))
        else:
            figures, stopped = _time_alone(run, flops, samples, min_sample, best, out)
    out["status"] = "pruned" if stopped else "ok"
    if stopped:
        out["reason"] = stopped
    out.update(gflops=statistics.median(figures), gflops_iqr=iqr(figures), samples=len(figures),
               unstable=is_unstable(figures))
    return out


def _hopeless(figures: list[float], best: float | None) -> str | None:
    now = statistics.median(figures)
    if best and now < EARLY_STOP_RATIO * best:
        return f"stopped early: {now:.1f} GFLOP/s is below half the best so far ({best:.1f})"
    return None


def _time_alone(run, flops: float, samples: int, min_sample: float, best: float | None,
                out: dict[str, Any]) -> tuple[list[float], str | None]:
    """Per-sample GFLOP/s of ``run`` timed on its own (``measure``'s protocol), and the
    early stop's reason if it stopped the timing."""
    from ..measure import EarlyStop, gflops, measure

    as_gflops = lambda taken: [gflops(flops, t) for t in taken]  # noqa: E731
    stopped = None
    try:
        timing = measure(run, samples=samples, min_sample_seconds=min_sample,
                         early_stop=(lambda taken: _hopeless(as_gflops(taken), best)) if best else None)
    except EarlyStop as stop:
        timing, stopped = stop.timing, stop.reason
    out["repeats"] = timing.repeats
    return as_gflops(timing.samples), stopped


def _time_paired(run, numpy_run, flops: float, reference: float, samples: int, min_sample: float,
                 best: float | None, out: dict[str, Any],
                 numpy_key: tuple | None = None) -> tuple[list[float], str | None]:
    """Per-round figures of ``run`` (its speed relative to numpy's in the round, times
    ``reference``) and the early stop's reason; numpy's own figure and the ratio go into
    ``out``. ``numpy_key`` names the problem whose numpy calls per sample this worker keeps
    between candidates (numpy is warm and calibrated after the first)."""
    from ..measure import EarlyStop, gflops, interleaved

    def scaled(ref: list[float], mine: list[float]) -> list[float]:
        ratios = [r / k for r, k in zip(ref, mine)]
        out["numpy_ratio"] = statistics.median(ratios)
        out["numpy_gflops"] = gflops(flops, statistics.median(ref))
        return [x * reference for x in ratios]

    stopped = None
    try:
        timings = interleaved([numpy_run, run], rounds=samples, min_sample_seconds=min_sample,
                              early_stop=(lambda taken: _hopeless(scaled(*taken), best)) if best else None,
                              repeats=[_numpy_repeats.get(numpy_key), None])
    except EarlyStop as stop:
        timings, stopped = stop.timings, stop.reason
    ref, mine = timings
    out["repeats"] = mine.repeats
    if numpy_key is not None:
        _numpy_repeats[numpy_key] = ref.repeats
    return scaled(ref.samples, mine.samples), stopped


def remeasure(request: dict[str, Any]) -> dict[str, Any]:
    """Time the finalists and numpy interleaved, with more samples; never raises.

    Request keys: ``candidates`` (KernelParams dicts, already verified), ``problem``,
    ``root``, optional ``rounds`` and ``min_sample_seconds``.

    Returns:
        ``{"status": "ok", "numpy": {...}, "candidates": [{...}, ...]}``, each figure with
        ``gflops``, ``gflops_iqr``, ``samples``, ``unstable``; a candidate that no longer
        compiles gets ``{"error": reason}``.
    """
    import numpy as np

    from ..kernels.params import KernelParams
    from ..measure import gemm_flops, interleaved, pinned_threads
    from ..problem import Problem

    problem = Problem.from_dict(request["problem"])
    rng = np.random.default_rng(2)
    A = rng.standard_normal((problem.m, problem.k)).astype(problem.dtype)
    B = rng.standard_normal((problem.k, problem.n)).astype(problem.dtype)
    C = np.empty((problem.m, problem.n), dtype=problem.dtype)
    fns = [lambda: np.matmul(A, B, out=C)]
    slots: list[int | None] = []
    errors: dict[int, str] = {}
    for i, raw in enumerate(request["candidates"]):
        try:
            kernel = kernel_for(KernelParams.from_dict(raw), problem.dtype, request.get("root"))
            kernel(A[:1, :1], B[:1, :1], np.empty((1, 1), problem.dtype), threads=1)
        except Exception as e:
            errors[i] = f"{type(e).__name__}: {e}"
            slots.append(None)
            continue
        slots.append(len(fns))
        fns.append(lambda kernel=kernel: kernel(A, B, C, threads=problem.threads))
    flops = gemm_flops(problem.m, problem.n, problem.k)
    with pinned_threads(problem.threads):
        timings = interleaved(fns, int(request.get("rounds", 7)),
                              min_sample_seconds=float(request.get("min_sample_seconds", 0.1)))
    figures = [t.summary(flops) for t in timings]
    return {"status": "ok", "numpy": figures[0],
            "candidates": [figures[j] if j is not None else {"error": errors[i]}
                           for i, j in enumerate(slots)]}


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Dispatch one request by its ``op``: "evaluate" (default) or "remeasure"."""
    if request.get("op") == "remeasure":
        try:
            return remeasure(request)
        except Exception as e:
            return {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    return evaluate(request)


def _end_with_parent() -> None:
    """On Linux, have the kernel SIGKILL this worker when the search that started it dies,
    even by kill -9: an orphan would go on compiling and timing a candidate next to the
    rerun's. (The signal comes when the thread that started the worker ends; searches start
    it from their main thread.) Elsewhere the worker ends when its stdin closes, after the
    candidate in flight.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get(ENV_PARENT)
    if parent and os.getppid() != int(parent):
        os._exit(0)  # the search died before the request above took effect


def main() -> None:
    """Serve requests: one JSON object per line in, one per line out."""
    _end_with_parent()
    # Anything a library prints must not corrupt the protocol: keep a private handle on
    # the real stdout and point file descriptor 1 at stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            result = handle(request)
        except Exception as e:  # a worker bug must still answer, or the parent waits in vain
            result = {"status": "failed", "reason": f"worker error: {type(e).__name__}: {e}"}
        proto.write(json.dumps(result) + "\n")
        proto.flush()


class Worker:
    """The parent's handle on one worker process, restarted when it dies or overruns.

    Args:
        env: extra environment variables for the worker.
        max_requests: requests one process serves before it is replaced: every kernel it
            loads stays in memory (tens of MB each).
    """

    def __init__(self, env: dict[str, str] | None = None, max_requests: int = 40):
        self.env = env
        self.max_requests = max_requests
        self.served = 0
        self.proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self._log = None

    def _start(self) -> None:
        env = dict(os.environ)
        env.update(self.env or {})
        env[ENV_PARENT] = str(os.getpid())
        self._log = tempfile.TemporaryFile(mode="w+b")
        self._lines = queue.Queue()
        # Its own session: Ctrl-C in the terminal reaches the search, which ends the
        # worker itself, instead of killing a candidate half-way.
        self.proc = subprocess.Popen([sys.executable, "-m", "gemmtune.search.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.proc, self._lines), daemon=True).start()

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)  # end of file: the worker is gone

    def _stderr_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 2000))
        text = self._log.read().decode(errors="replace").strip().splitlines()
        return text[-1] if text else ""

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request; the result, or a failed result saying why there is none."""
        if self.proc is not None and self.served >= self.max_requests:
            self.close()
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            self._start()
            self.served = 0
        self.served += 1
        assert self.proc is not None and self.proc.stdin is not None
        t0 = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            raw = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return {"status": "failed", "reason": f"timed out after {timeout:g} s",
                    "seconds": time.monotonic() - t0}
        except (BrokenPipeError, OSError):
            raw = None
        if raw is None:
            code = self.proc.wait()
            tail = self._stderr_tail()
            if code < 0:
                try:
                    what = f"killed by {signal.Signals(-code).name}"
                except ValueError:
                    what = f"killed by signal {-code}"
            else:
                what = f"exited with status {code}"
            self.kill()
            reason = f"worker crashed ({what})" + (f": {tail}" if tail and code >= 0 else "")
            return {"status": "failed", "reason": reason, "seconds": time.monotonic() - t0}
        result = json.loads(raw)
        result["seconds"] = time.monotonic() - t0
        return result

    def numpy_gflops(self, problem: dict[str, Any], root: str, timeout: float) -> float | None:
        """numpy's figure for ``problem`` (a Problem dict), timed here; None if that failed.

        The scale a study's numpy-paired candidate figures are put on (``reference_gflops``).
        """
        res = self.run({"op": "remeasure", "candidates": [], "problem": problem, "root": root},
                       timeout)
        return (res.get("numpy") or {}).get("gflops") if res.get("status") == "ok" else None

    def kill(self) -> None:
        """End the worker process now (it is restarted on the next request)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Let the worker finish its loop and exit, or kill it if it does not."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


if __name__ == "__main__":
    main()
