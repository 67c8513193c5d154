"""A controlled disturbance: busy-loop processes pinned to chosen cores, for as long as a
``with`` block runs (the machine sharing the tests reproduce)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from typing import Iterator, Sequence

_LOOP = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); print('go', flush=True)\nwhile True: pass"


def cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


@contextlib.contextmanager
def burning(cpus: Sequence[int] | None = None) -> Iterator[list[int]]:
    """Run one busy loop per core in ``cpus`` (default: every usable core) during the block."""
    procs = []
    try:
        for cpu in (cpus if cpus is not None else cores()):
            procs.append(subprocess.Popen([sys.executable, "-c", _LOOP, str(cpu)],
                                          stdout=subprocess.PIPE, text=True))
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()   # pinned and spinning
        time.sleep(0.05)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


class AfterSpin:
    """Busy loops on every core, stopped, that ``kick()`` lets spin for ``seconds``: what
    OpenBLAS's threads do on the cores after a BLAS call returns."""

    def __init__(self, seconds: float = 0.02):
        import signal

        self.seconds = seconds
        self._stack = contextlib.ExitStack()
        self.pids = self._stack.enter_context(burning())
        self._signal = signal
        for pid in self.pids:
            os.kill(pid, signal.SIGSTOP)

    def kick(self) -> None:
        import threading

        for pid in self.pids:
            os.kill(pid, self._signal.SIGCONT)
        threading.Timer(self.seconds, self._stop).start()

    def _stop(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, self._signal.SIGSTOP)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self._stack.close()
