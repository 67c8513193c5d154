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


_ON_SIGNAL = """\
import os, signal, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
seconds = float(sys.argv[2])
signal.signal(signal.SIGUSR1, lambda *args: None)
print('go', flush=True)
while True:
    signal.pause()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
"""


class AfterSpin:
    """One process per core that spins for ``seconds`` each time ``kick()`` signals it: what
    OpenBLAS's threads do on the cores after a BLAS call returns. (No thread of the test's
    own process is involved, so its interpreter lock is not contended.)"""

    def __init__(self, seconds: float = 0.005, per_core: int = 2):
        self.procs = [subprocess.Popen([sys.executable, "-c", _ON_SIGNAL, str(cpu), str(seconds)],
                                       stdout=subprocess.PIPE, text=True)
                      for cpu in cores() for _ in range(per_core)]
        for p in self.procs:
            assert p.stdout is not None
            p.stdout.readline()

    def kick(self) -> None:
        import signal

        for p in self.procs:
            os.kill(p.pid, signal.SIGUSR1)

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
