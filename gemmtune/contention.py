"""Did this process get the cores its threads wanted while a block ran, or did other work
hold them?

A search's timings need the answer: with a busy loop on one of two cores, OpenBLAS's 2-thread
product collapsed steadily (15.3 GFLOP/s, every figure alike), so numpy's spread called the
machine quiet and "% of numpy" read 370% (docs/performance.md section 11). ``measure.cpu_share``
(CPU time over threads x wall time) cannot answer for a timing: it needs threads that compute
all the time, and a search's threads also wait for work (numpy runs a small product on one
thread; numba's and OpenBLAS's pools sleep between calls).

So the figure is the time the process's threads ran over the time they were ready to run,
from Linux's per-thread scheduler statistics (``/proc/self/task/<tid>/schedstat``: nanoseconds
on a CPU, nanoseconds waiting in a run queue). A thread waiting for work is not ready and
does not count. A thread waiting for a core counts only as long as other processes ran on
this process's cores meanwhile (``/proc/stat``): the process's own threads also wait for one
another (OpenBLAS's and numba's helper threads each spin for a while after their library's
call, on the core the other needs next: 13-14% of the ready time on a quiet machine), and
that is no other work.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

from .measure import BUSY_CPU_SHARE


@dataclass
class RunShare:
    """Filled in by :func:`run_share` when its block ends. The seconds are None where the OS
    does not keep them (not Linux); ``share`` is then None: no claim either way."""

    run_seconds: float | None = None      # this process's threads on a CPU
    wait_seconds: float | None = None     # ... ready to run, waiting in a run queue
    others_seconds: float | None = None   # CPU time other processes got on this process's cores

    @property
    def held_seconds(self) -> float | None:
        """The waiting other work can account for: no more than the time it ran."""
        if self.wait_seconds is None:
            return None
        if self.others_seconds is None:
            return self.wait_seconds
        return min(self.wait_seconds, self.others_seconds)

    @property
    def share(self) -> float | None:
        """Run time over run time plus ``held_seconds``: 1.0 when other work kept no thread
        from a core."""
        held = self.held_seconds
        if self.run_seconds is None or held is None:
            return None
        ready = self.run_seconds + held
        return self.run_seconds / ready if ready > 0 else 1.0

    @property
    def busy(self) -> bool:
        """Other work held the cores: the share below ``measure.BUSY_CPU_SHARE``."""
        share = self.share
        return share is not None and share < BUSY_CPU_SHARE


def _thread_schedstats() -> dict[str, tuple[int, int]] | None:
    """Per thread of this process: nanoseconds on a CPU and waiting in a run queue (the first
    two fields of ``/proc/self/task/<tid>/schedstat``); None without them."""
    base = "/proc/self/task"
    try:
        tids = os.listdir(base)
    except OSError:
        return None
    stats = {}
    for tid in tids:
        try:
            with open(f"{base}/{tid}/schedstat") as f:
                ran, waited = f.read().split()[:2]
            stats[tid] = (int(ran), int(waited))
        except (OSError, ValueError):
            continue   # the thread ended meanwhile, or the file says something else
    return stats or None


def _cores_busy_seconds() -> float | None:
    """Seconds the cores this process may use spent on anything but idling (user, nice,
    system, irq, softirq, steal: the first eight fields of ``/proc/stat``'s ``cpuN`` lines,
    less idle and iowait), summed; None without them."""
    try:
        allowed = {f"cpu{c}" for c in os.sched_getaffinity(0)}
        with open("/proc/stat") as f:
            rows = [line.split() for line in f if line.startswith("cpu")]
        ticks = 0
        for row in rows:
            if row[0] in allowed:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, row[1:9])
                ticks += user + nice + system + irq + softirq + steal
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None


@contextlib.contextmanager
def run_share() -> Iterator[RunShare]:
    """Measure whether other work kept this process's threads from the cores in the block.

    Every thread of the process counts, including those started in the block (numpy's and
    numba's pools start on first use). Other processes on cores this process does not need
    at the moment, and its own threads idling, do not make a busy machine.
    """
    got = RunShare()
    before, cores_before = _thread_schedstats(), _cores_busy_seconds()
    try:
        yield got
    finally:
        after, cores_after = _thread_schedstats(), _cores_busy_seconds()
        if before is not None and after is not None:
            ran = waited = 0
            for tid, (r, w) in after.items():
                r0, w0 = before.get(tid, (0, 0))
                ran += r - r0
                waited += w - w0
            got.run_seconds, got.wait_seconds = ran / 1e9, waited / 1e9
            if cores_before is not None and cores_after is not None:
                # /proc/stat counts in clock ticks (10 ms): a few ticks of rounding either way.
                got.others_seconds = max(0.0, cores_after - cores_before - got.run_seconds)
