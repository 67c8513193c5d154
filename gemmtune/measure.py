"""The timing protocol shared by ``search`` and ``bench``.

One figure is made of samples; a sample is ``repeats`` back-to-back calls timed together,
with ``repeats`` calibrated so a sample lasts at least ``min_sample_seconds`` (timer
resolution and scheduler noise stop mattering). A warm-up call comes first (it pays for
compiling, page faults and cold caches). The figure reported is the median of the samples;
their interquartile range says how far to trust it, and a figure whose IQR is a large share
of its median is flagged unstable.

Comparisons between candidates are made with ``interleaved``: rounds of A B A B ... so a
slow drift of the machine (another process, the clock) touches every candidate alike.

``AfterCall(before, fn)`` times ``fn`` the way a user's loop that alternates libraries runs
it: every call of ``fn`` comes right after an untimed call of ``before`` (numpy's product).
OpenBLAS's threads keep spinning for a while after a call returns, on the cores numba's
threads need, so a kernel can be fast back to back and slow in such a loop.

``cpu_share`` says whether the machine was busy while something ran: the CPU time this
process got over the wall time of its threads. A quiet machine gives every thread its core
(about 1); other work on the cores pushes it down. It needs threads that compute all the
time (the peak loop); ``contention.run_share`` does not (a search's timings, whose threads
also wait for work).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Sequence

DEFAULT_MIN_SAMPLE_SECONDS = 0.05
DEFAULT_SAMPLES = 5
UNSTABLE_IQR_RATIO = 0.10   # IQR above 10% of the median: the figure is noisy
MAX_REPEATS = 1 << 20
TEST_TIMING_SCALE = "GEMMTUNE_TEST_TIMING_SCALE"


def search_sample_seconds(seconds: float) -> float:
    """``seconds``, a default sample length of the search, times GEMMTUNE_TEST_TIMING_SCALE.

    TEST-ONLY. The test suite sets the scale below 1 (tests/conftest.py): its searches test
    caching, resuming, crashes and concurrency, and at full length timing the candidates and
    the finish would be most of their time. The number of samples and rounds, and so every
    rule applied to them, stays the same. Unset, or not a number in (0, 1]: ``seconds``.
    """
    import os

    try:
        scale = float(os.environ.get(TEST_TIMING_SCALE, "1"))
    except ValueError:
        return seconds
    return seconds * scale if 0.0 < scale <= 1.0 else seconds


class EarlyStop(Exception):
    """Raised by ``measure`` (or ``interleaved``) when the early-stop hook gave up on a candidate.

    ``timing`` holds the samples taken so far (``timings``: one per callable, from
    ``interleaved``).
    """

    def __init__(self, reason: str, timing: "Timing", timings: "list[Timing] | None" = None):
        super().__init__(reason)
        self.reason = reason
        self.timing = timing
        self.timings = timings if timings is not None else [timing]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one callable: the samples and their summary."""

    samples: list[float] = field(default_factory=list)   # seconds per call, one per sample
    repeats: int = 1                                      # calls per sample
    warmup_seconds: float = 0.0                           # the first call (compile, cold caches)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def iqr(self) -> float:
        return iqr(self.samples)

    @property
    def unstable(self) -> bool:
        return is_unstable(self.samples)

    def gflops(self, flops: float) -> float:
        """Median GFLOP/s for ``flops`` floating-point operations per call."""
        return gflops(flops, self.median)

    def gflops_iqr(self, flops: float) -> float:
        """IQR of the per-sample GFLOP/s figures."""
        return iqr([gflops(flops, s) for s in self.samples])

    def summary(self, flops: float | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"median_seconds": self.median, "iqr_seconds": self.iqr,
                               "samples": len(self.samples), "repeats": self.repeats,
                               "unstable": self.unstable}
        if flops is not None:
            doc["gflops"] = self.gflops(flops)
            doc["gflops_iqr"] = self.gflops_iqr(flops)
        return doc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gflops(flops: float, seconds: float) -> float:
    """GFLOP/s of ``flops`` operations done in ``seconds`` (0 for a non-positive time)."""
    return flops / seconds / 1e9 if seconds > 0 else 0.0


def gemm_flops(m: int, n: int, k: int) -> int:
    """Operations of C = A @ B: one multiply and one add per term."""
    return 2 * m * n * k


def iqr(values: Sequence[float]) -> float:
    """Interquartile range (inclusive quartiles; 0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]


def is_unstable(samples: Sequence[float], threshold: float = UNSTABLE_IQR_RATIO) -> bool:
    """True when the IQR is more than ``threshold`` of the median."""
    if len(samples) < 2:
        return False
    med = statistics.median(samples)
    return med <= 0 or iqr(samples) / med > threshold


def calibrate(fn: Callable[[], Any], min_sample_seconds: float = DEFAULT_MIN_SAMPLE_SECONDS,
              first_call_seconds: float | None = None) -> int:
    """Calls per sample so one sample lasts at least ``min_sample_seconds``.

    Args:
        fn: the callable, already warmed up.
        min_sample_seconds: target length of a sample.
        first_call_seconds: a timing of one call already made (saves a call).
    """
    if first_call_seconds is not None and first_call_seconds >= min_sample_seconds:
        return 1
    # Grow the batch until one batch lasts long enough: a single call of a fast function
    # is dominated by timer and call overhead, so it cannot be extrapolated from.
    n = 1
    while True:
        took = _sample(fn, n) * n
        if took >= min_sample_seconds or n >= MAX_REPEATS:
            return n
        # Aim 20% above the target, so a slightly faster sample still lasts long enough.
        want = int(n * min_sample_seconds * 1.2 / max(took, 1e-9)) + 1
        n = min(MAX_REPEATS, max(2 * n, want) if took < min_sample_seconds / 10 else max(n + 1, want))


@dataclass(frozen=True)
class AfterCall:
    """Calling it runs ``before`` then ``fn``; a sample of it times only ``fn``'s calls.

    ``measure`` and ``interleaved`` accept it in place of a callable: each timed call of
    ``fn`` then follows a call of ``before``, as in a loop ``numpy @; gemmtune.matmul``.
    """

    before: Callable[[], Any]
    fn: Callable[[], Any]

    def __call__(self) -> Any:
        self.before()
        return self.fn()


def _sample(fn: Callable[[], Any], repeats: int) -> float:
    if isinstance(fn, AfterCall):
        took = 0.0
        for _ in range(repeats):
            fn.before()
            t0 = time.perf_counter()
            fn.fn()
            took += time.perf_counter() - t0
        return took / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def measure(fn: Callable[[], Any], *, samples: int = DEFAULT_SAMPLES,
            min_sample_seconds: float = DEFAULT_MIN_SAMPLE_SECONDS, warmup: int = 1,
            early_stop: Callable[[list[float]], str | None] | None = None,
            early_stop_after: int = 2) -> Timing:
    """Time ``fn`` by the protocol above.

    Args:
        fn: a callable with no arguments, one call of the work to time.
        samples: how many samples to take.
        min_sample_seconds: minimum length of one sample.
        warmup: calls made (and not counted) before calibrating.
        early_stop: called with the seconds-per-call samples taken so far once there are
            ``early_stop_after`` of them; a returned string aborts with ``EarlyStop``
            carrying that reason (used to drop a hopeless candidate quickly).
        early_stop_after: samples taken before ``early_stop`` is consulted.

    Raises:
        EarlyStop: when ``early_stop`` returned a reason.
    """
    warm = 0.0
    last = None
    for _ in range(max(warmup, 0)):
        t0 = time.perf_counter()
        fn()
        last = time.perf_counter() - t0
        warm += last
    # The warm-up call may include one-off costs, so calibrate on a fresh call unless
    # the warm-up itself was already a long sample.
    repeats = calibrate(fn, min_sample_seconds,
                        last if last is not None and last >= min_sample_seconds else None)
    taken: list[float] = []
    for _ in range(max(samples, 1)):
        taken.append(_sample(fn, repeats))
        if early_stop is not None and len(taken) == early_stop_after < samples:
            reason = early_stop(list(taken))
            if reason:
                raise EarlyStop(reason, Timing(taken, repeats, warm))
    return Timing(taken, repeats, warm)


def interleaved(fns: Sequence[Callable[[], Any]], rounds: int = DEFAULT_SAMPLES, *,
                min_sample_seconds: float = DEFAULT_MIN_SAMPLE_SECONDS, warmup: int = 1,
                early_stop: Callable[[list[list[float]]], str | None] | None = None,
                early_stop_after: int = 2,
                repeats: Sequence[int | None] | None = None) -> list[Timing]:
    """Time several callables in alternating rounds (A B C A B C ...).

    Each callable is warmed up and calibrated on its own; then every round takes one sample
    of each, so a drift of the machine during the measurement lands on all of them.
    ``early_stop`` is called with every callable's samples after ``early_stop_after`` rounds,
    as in ``measure``; ``EarlyStop.timings`` then holds the rounds taken. A callable whose
    calls per sample are given in ``repeats`` (already warm, e.g. numpy's product timed for
    the previous candidate) skips its warm-up and calibration.
    """
    warms = [0.0] * len(fns)
    known = list(repeats) if repeats is not None else [None] * len(fns)
    calls: list[int] = []   # per callable, calls per sample
    for i, fn in enumerate(fns):
        if known[i]:
            calls.append(int(known[i]))
            continue
        last = None
        for _ in range(max(warmup, 0)):
            t0 = time.perf_counter()
            fn()
            last = time.perf_counter() - t0
            warms[i] += last
        calls.append(calibrate(fn, min_sample_seconds,
                                 last if last is not None and last >= min_sample_seconds else None))
    taken: list[list[float]] = [[] for _ in fns]
    rounds = max(rounds, 1)
    for done in range(1, rounds + 1):
        for i, fn in enumerate(fns):
            taken[i].append(_sample(fn, calls[i]))
        if early_stop is not None and done == early_stop_after < rounds:
            reason = early_stop([list(t) for t in taken])
            if reason:
                timings = [Timing(list(t), r, w) for t, r, w in zip(taken, calls, warms)]
                raise EarlyStop(reason, timings[-1], timings)
    return [Timing(t, r, w) for t, r, w in zip(taken, calls, warms)]


BUSY_CPU_SHARE = 0.9   # threads that got less than 90% of their wall time: the machine was busy


@dataclass
class CpuShare:
    """Filled in by :func:`cpu_share` when its block ends."""

    threads: int
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def share(self) -> float:
        """CPU seconds over ``threads`` x wall seconds (1.0: every thread had its core)."""
        if self.wall_seconds <= 0:
            return 1.0
        return self.cpu_seconds / (self.threads * self.wall_seconds)

    @property
    def busy(self) -> bool:
        return self.share < BUSY_CPU_SHARE


@contextlib.contextmanager
def cpu_share(threads: int) -> Iterator[CpuShare]:
    """Measure the share of the cores that ``threads`` busy threads of this process got.

    Only meaningful for a block whose ``threads`` threads compute all the time (the peak
    loop, the triad): a thread preempted by another process gets less CPU time than wall time.
    """
    got = CpuShare(threads)
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        yield got
    finally:
        got.cpu_seconds = time.process_time() - c0
        got.wall_seconds = time.perf_counter() - t0


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@contextlib.contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Run the body with numpy's BLAS and numba both limited to ``threads`` threads.

    Without this a 1-thread kernel would be compared with a BLAS using every core.
    """
    from threadpoolctl import threadpool_limits

    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
