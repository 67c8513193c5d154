"""The worker end: compile, verify and time candidates, isolated in their own process.

A generated kernel can crash the interpreter or never return; neither may end a search.
So the search talks to ``python -m gemmtune.search.worker``: one request per line on its
stdin, one outcome per line on its stdout (``messages.py``). The search end
(``worker_client.Worker``) enforces a time limit per candidate and restarts a worker that
crashed or overran. One worker lives across candidates, because starting Python and
importing numba costs a second or two.

``evaluate`` is the objective itself and also runs in-process (``InProcessEvaluator``,
benchmarks/record_space.py). Kernels are reached only through their family
(``gemmtune.families``); faults for the tests come from ``gemmtune.faults``.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from typing import Any

from .messages import (EvaluateRequest, Outcome, Progress, RemeasureOutcome, RemeasureRequest,
                       decode_request, encode)

ENV_PARENT = "GEMMTUNE_WORKER_PARENT"   # the pid of the search that started the worker
_kernels: dict[tuple, Any] = {}
# numpy's calls per sample for each problem, kept across the candidates a worker times:
# numpy is warm after the first one, so its warm-up and calibration need not be repeated.
_numpy_repeats: dict[tuple, int] = {}
EARLY_STOP_RATIO = 0.5   # first samples below half the best so far: hopeless, stop timing


def kernel_for(family: Any, params: Any, problem: Any, root: str | None) -> Any:
    """The compiled kernel, one object per kernel for the life of the worker (a numba
    dispatcher is compiled once and then sealed, so it must not be compiled twice)."""
    key = (family.name, params.key(), problem.dtype, root)
    if key not in _kernels:
        _kernels[key] = family.compile(params, problem, root)
    return _kernels[key]


def _family(name: str, problem: Any) -> Any:
    from ..families import family_for, get_family

    return get_family(name) if name else family_for(problem)


def evaluate(request: EvaluateRequest, progress: Any = None) -> Outcome:
    """Compile, verify and time the candidate ``request`` describes; never raises.

    Paired timing (``reference_gflops`` given): the kernel runs in rounds interleaved with
    numpy's product, and each round's figure is the kernel's speed relative to numpy's in
    that round, times ``reference_gflops``. A slow period of the host lands on both sides of
    a round, so candidates measured minutes apart are ranked on the same scale (on the
    replay tables this halved how much two passes of one kernel differ, docs/search.md).

    Each round times the kernel in both conditions users run it in: back to back, and every
    call right after a numpy call (``measure.AfterCall``: OpenBLAS's threads still spin on
    the cores then). The figure kept is the lower of the two, so a kernel that collapses
    next to numpy's BLAS is not crowned for its speed alone.

    ``progress`` (the worker's protocol) is told when the kernel has compiled.

    ``run_share`` says whether this process got its cores while it timed (``contention.run_share``):
    a numpy that collapses steadily beside a busy core looks like a quiet machine by its
    spread alone.
    """
    from ..faults import trial_fault
    from ..contention import run_share
    from ..measure import iqr, is_unstable, pinned_threads
    from ..problem import Problem

    out = Outcome()
    try:
        problem = Problem.from_dict(request.problem)
        family = _family(request.family, problem)
        params = family.check_params(request.params, problem)
    except (KeyError, ValueError, TypeError) as e:
        out.reason = f"bad request: {e}"
        return out
    fault = trial_fault(request.trial)
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "hang":
        while True:
            time.sleep(3600)
    try:
        t0 = time.perf_counter()
        kernel = kernel_for(family, params, problem, request.root)
        out.compile_seconds = time.perf_counter() - t0
    except Exception as e:  # a generator or compiler error is this candidate's failure
        out.reason = f"compile failed: {type(e).__name__}: {e}"
        return out
    if progress is not None:
        progress(Progress(stage="compiled", compile_seconds=out.compile_seconds))
    started = time.perf_counter()
    if fault == "slow":
        time.sleep(3600)   # a hopeless candidate: only the search's time limit ends it
    if fault == "wrong":
        kernel = _corrupted(kernel)
    with pinned_threads(problem.threads):
        if request.verify:
            verdict = family.verify(kernel, problem)
            out.residual = verdict.residual
            if not verdict.ok:
                out.reason = f"wrong result: {verdict.reason}"
                return out
        work = family.workload(problem, seed=1)
        run = work.run(kernel)
        best = request.best_gflops
        with run_share() as got:
            if request.reference_gflops:
                figures, stopped = _time_paired(run, work.peer, work.flops,
                                                float(request.reference_gflops), request.samples,
                                                request.min_sample_seconds, best, out,
                                                numpy_key=(problem.label(), request.min_sample_seconds))
            else:
                figures, stopped = _time_alone(run, work.flops, request.samples,
                                               request.min_sample_seconds, best, out)
    out.run_share = _rounded(got.share)
    out.measure_seconds = time.perf_counter() - started
    out.status = "pruned" if stopped else "ok"
    if stopped:
        out.reason = stopped
    out.gflops = statistics.median(figures)
    out.gflops_iqr = iqr(figures)
    out.samples = len(figures)
    out.unstable = is_unstable(figures)
    return out


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 3)


def _corrupted(real: Any) -> Any:
    """``real`` with the last element of C off by one (the ``wrong`` fault)."""
    def kernel(A, B, C=None, **kw):
        C = real(A, B, C, **kw)
        C.flat[-1] += 1
        return C
    return kernel


def _hopeless(figures: list[float], best: float | None) -> str | None:
    now = statistics.median(figures)
    if best and now < EARLY_STOP_RATIO * best:
        return f"stopped early: {now:.1f} GFLOP/s is below half the best so far ({best:.1f})"
    return None


def _time_alone(run, flops: float, samples: int, min_sample: float, best: float | None,
                out: Outcome) -> tuple[list[float], str | None]:
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
    out.repeats = timing.repeats
    return as_gflops(timing.samples), stopped


def _time_paired(run, numpy_run, flops: float, reference: float, samples: int, min_sample: float,
                 best: float | None, out: Outcome,
                 numpy_key: tuple | None = None) -> tuple[list[float], str | None]:
    """Per-round figures of ``run`` (its speed relative to numpy's in the round, times
    ``reference``), in the worse of its two conditions (back to back, right after numpy),
    and the early stop's reason; numpy's own figure, its spread, both conditions and the
    ratio go into ``out``. ``numpy_key`` names the problem whose numpy calls per sample this
    worker keeps between candidates (numpy is warm and calibrated after the first).

    The early stop does not act on rounds whose numpy figure moved away from the reference
    (``plausibility.reference_moved``): their ratio says nothing about the candidate.
    """
    from ..measure import AfterCall, EarlyStop, gflops, interleaved, iqr
    from .plausibility import reference_moved

    def figures(ref: list[float], alone: list[float], after: list[float]) -> list[float]:
        ratios_alone = [r / k for r, k in zip(ref, alone)]
        ratios_after = [r / k for r, k in zip(ref, after)]
        alone_g = [x * reference for x in ratios_alone]
        after_g = [x * reference for x in ratios_after]
        out.numpy_gflops = gflops(flops, statistics.median(ref))
        out.numpy_iqr = iqr([gflops(flops, r) for r in ref])
        out.alone_gflops = statistics.median(alone_g)
        out.after_gflops = statistics.median(after_g)
        worse_after = out.after_gflops < out.alone_gflops
        out.numpy_ratio = statistics.median(ratios_after if worse_after else ratios_alone)
        own = after if worse_after else alone
        out.own_gflops = gflops(flops, statistics.median(own))
        return after_g if worse_after else alone_g

    def hopeless(taken: list[list[float]]) -> str | None:
        scaled = figures(*taken)
        if reference_moved(out.numpy_gflops, out.numpy_iqr, reference):
            # The scale is off: judge on the more favourable of the scaled and the candidate's
            # own figures, so that nothing is stopped for a numpy that ran fast by luck.
            own = taken[2] if out.after_gflops < out.alone_gflops else taken[1]
            scaled = [max(x, gflops(flops, t)) for x, t in zip(scaled, own)]
        return _hopeless(scaled, best)

    stopped = None
    try:
        timings = interleaved([numpy_run, run, AfterCall(numpy_run, run)], rounds=samples,
                              min_sample_seconds=min_sample,
                              early_stop=hopeless if best else None,
                              repeats=[_numpy_repeats.get(numpy_key), None, None])
    except EarlyStop as stop:
        timings, stopped = stop.timings, stop.reason
    ref, alone, after = timings
    out.repeats = alone.repeats
    if numpy_key is not None:
        _numpy_repeats[numpy_key] = ref.repeats
    return figures(ref.samples, alone.samples, after.samples), stopped


def remeasure(request: RemeasureRequest) -> RemeasureOutcome:
    """Time the finalists and numpy interleaved, with more samples; never raises."""
    from ..contention import run_share
    from ..measure import AfterCall, interleaved, pinned_threads
    from ..problem import Problem

    try:
        problem = Problem.from_dict(request.problem)
        family = _family(request.family, problem)
        work = family.workload(problem, seed=2)
        fns = [work.peer]
        slots: list[int | None] = []
        errors: dict[int, str] = {}
        for i, raw in enumerate(request.candidates):
            try:
                kernel = kernel_for(family, family.check_params(raw, problem), problem, request.root)
            except Exception as e:
                errors[i] = f"{type(e).__name__}: {e}"
                slots.append(None)
                continue
            slots.append(len(fns))
            fns.append(work.run(kernel))
            fns.append(AfterCall(work.peer, work.run(kernel)))
        with pinned_threads(problem.threads), run_share() as got:
            timings = interleaved(fns, request.rounds, min_sample_seconds=request.min_sample_seconds)
    except Exception as e:
        return RemeasureOutcome(status="failed", reason=f"{type(e).__name__}: {e}")
    figures = [t.summary(work.flops) for t in timings]
    return RemeasureOutcome(numpy=figures[0], run_share=_rounded(got.share),
                            candidates=[_both(figures[j], figures[j + 1]) if j is not None
                                        else {"error": errors[i]} for i, j in enumerate(slots)])


def _both(alone: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A finalist's figure: the worse of its two conditions, with both kept."""
    worse = after if after["gflops"] < alone["gflops"] else alone
    return {**worse, "alone_gflops": alone["gflops"], "after_gflops": after["gflops"],
            "condition": "after numpy" if worse is after else "alone"}


def handle(request: EvaluateRequest | RemeasureRequest,
           progress: Any = None) -> Outcome | RemeasureOutcome:
    """Serve one request (``progress`` receives ``messages.Progress`` notes on the way)."""
    if isinstance(request, RemeasureRequest):
        return remeasure(request)
    return evaluate(request, progress)


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
    def progress(note: Progress) -> None:
        proto.write(encode(note) + "\n")
        proto.flush()

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            result: Any = handle(decode_request(line), progress)
        except Exception as e:  # a worker bug must still answer, or the parent waits in vain
            result = Outcome(reason=f"worker error: {type(e).__name__}: {e}")
        proto.write(encode(result) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
