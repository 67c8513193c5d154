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
