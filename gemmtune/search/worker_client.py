"""The search end of a worker process: send a request, enforce its time limit, read the outcome.

See ``worker.py`` for the other end and ``messages.py`` for what crosses between them.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from .messages import (REMEASURE_SAMPLE_SECONDS, Outcome, RemeasureOutcome, RemeasureRequest,
                       Request, decode_outcome, decode_progress, encode)
from .worker import ENV_PARENT


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
        self.numpy_run_share: float | None = None   # of the last ``numpy_gflops``
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

    def run(self, request: Request, timeout: float,
            budget: float | None = None) -> Outcome | RemeasureOutcome:
        """Send one request; its outcome, or a failed outcome saying why there is none.

        Args:
            request: what to do.
            timeout: seconds the whole request may take (the worker is killed after).
            budget: seconds the candidate may spend verifying and timing once it has
                compiled (the worker's "compiled" note starts the clock); past it the worker
                is killed and the candidate is stopped early ("pruned").
        """
        if self.proc is not None and self.served >= self.max_requests:
            self.close()
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            self._start()
            self.served = 0
        self.served += 1
        assert self.proc is not None and self.proc.stdin is not None
        t0 = time.monotonic()
        deadline = t0 + timeout
        compiled_at: float | None = None
        compile_seconds: float | None = None
        try:
            self.proc.stdin.write((encode(request) + "\n").encode())
            self.proc.stdin.flush()
            while True:
                now = time.monotonic()
                limit = deadline
                if compiled_at is not None and budget is not None:
                    limit = min(limit, compiled_at + budget)
                try:
                    raw = self._lines.get(timeout=max(0.0, limit - now))
                except queue.Empty:
                    if compiled_at is not None and budget is not None \
                            and time.monotonic() < deadline:
                        self.kill()
                        return _over_budget(budget, compile_seconds, time.monotonic() - t0)
                    raise
                note = decode_progress(raw) if raw is not None else None
                if note is None:
                    break
                if note.stage == "compiled":
                    compiled_at, compile_seconds = time.monotonic(), note.compile_seconds
        except queue.Empty:
            self.kill()
            return _failed(request, f"timed out after {timeout:g} s", time.monotonic() - t0)
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
            return _failed(request, reason, time.monotonic() - t0)
        try:
            result = decode_outcome(raw, request)
        except ValueError as e:
            return _failed(request, f"worker sent no outcome ({e})", time.monotonic() - t0)
        result.seconds = time.monotonic() - t0
        return result

    def numpy_gflops(self, problem: dict[str, Any], root: str, timeout: float,
                     family: str = "") -> float | None:
        """numpy's figure for ``problem`` (a Problem dict), timed here; None if that failed.

        The scale a study's numpy-paired candidate figures are put on (``reference_gflops``);
        whether the worker got its cores meanwhile is left in ``numpy_run_share``.
        """
        from ..measure import search_sample_seconds

        res = self.run(RemeasureRequest(candidates=[], problem=problem, family=family, root=root,
                                        min_sample_seconds=search_sample_seconds(
                                            REMEASURE_SAMPLE_SECONDS)),
                       timeout)
        self.numpy_run_share = res.run_share if res.status == "ok" else None
        return res.numpy.get("gflops") if res.status == "ok" else None

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


def _over_budget(budget: float, compile_seconds: float | None, seconds: float) -> Outcome:
    return Outcome(status="pruned", reason=f"stopped early: still measuring after {budget:.1f} s, "
                   "more than a few times the best candidate's time for the same work",
                   compile_seconds=compile_seconds, measure_seconds=budget, gflops=0.0,
                   seconds=seconds)


def _failed(request: Request, reason: str, seconds: float) -> Outcome | RemeasureOutcome:
    if isinstance(request, RemeasureRequest):
        return RemeasureOutcome(status="failed", reason=reason, seconds=seconds)
    return Outcome(status="failed", reason=reason, seconds=seconds)
