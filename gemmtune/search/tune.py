"""The search as one library call: ``tune(problem, ...)``.

Used by ``gemmtune search`` (which parses options and renders, nothing more), by
``gemmtune.tune`` from Python, by the replay tests and by ``benchmarks/``. The path of one
search: the kernel family for the problem -> its search space on this machine -> the study
(storage, sampler) -> starting points enqueued -> trials measured by an evaluator -> the
finalists re-measured -> the winner cached.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import GemmtuneError
from ..measure import load_average
from ..problem import Problem


def tune(problem: Problem, *, root: str | os.PathLike | None, trials: int = 40,
         timeout: float | None = None, candidate_timeout: float | None = None,
         sampler: str = "tpe", sampler_seed: int | None = None, storage: str | None = None,
         study: str | None = None, evaluator: Any = None, on_trial: Callable[[Any], None] | None = None,
         progress: Any = None, cache: bool = True, starts: list | None = None,
         fp: dict[str, Any] | None = None, space: Any = None,
         stop: Callable[[], bool] | None = None, finish: bool = True,
         ceiling: float | None | str = "auto") -> dict[str, Any]:
    """Search ``problem``, cache the winner, and return the ``search --json`` document.

    Args:
        problem: what to tune.
        root: the cache dir (tunings, studies, compiled kernels).
        trials: candidates to measure (points rejected before compiling do not count).
        timeout: no candidate starts after this many seconds.
        candidate_timeout: seconds one candidate may take in its worker.
        sampler, sampler_seed: how candidates are proposed after the starting points.
        storage: Optuna storage URL (default: SQLite in ``root``), or a storage object (the
            replay's in-memory one).
        study: study name (default: ``gemm-<fingerprint>-<problem key>``).
        evaluator: what measures candidates (default: a worker process); it is closed here.
        on_trial: called with each finished trial (a view's progress bar).
        progress: a context manager entered around the trials (the view itself).
        cache: store the winner in the tunings file.
        starts: the starting points (default: transfer, then the family's own).
        fp: the fingerprint (default: this machine's).
        space: the search space (default: the family's for this machine; a replay passes
            the recorded table's).
        stop: asked after every trial; True ends the trials early.
        finish: re-measure the finalists interleaved with numpy before picking the winner
            (False: the best search figure wins as it is).
        ceiling: the GFLOP/s no figure can honestly exceed ("auto": this machine's measured
            FMA peak, or bandwidth ceiling for a large memory-bound shape, from ``peak.py``,
            when the search measures with its own worker; None: no check).

    Raises:
        GemmtuneError: the storage or study cannot be used (one sentence).
    """
    from contextlib import nullcontext

    from ..cache import Entry, TuningCache, make_provenance
    from ..families import family_for
    from ..fingerprint import fingerprint
    from .evaluators import WorkerEvaluator
    from .report import build_document
    from .runner import Search
    from .starts import starting_points
    from .study import (enqueue_starts, is_shared, make_sampler, numpy_reference, open_storage,
                        open_study, redact, study_name)

    fp = fp or fingerprint()
    fp_id = fp["id"]
    family = family_for(problem)
    space = space if space is not None else family.space(problem, fp)
    if storage is None or isinstance(storage, str):
        store, url = open_storage(storage, root)
    else:
        store, url = storage, "memory"
    name = study or study_name(fp_id, problem)
    st = open_study(store, name, problem, fp_id,
                    make_sampler(sampler, space, sampler_seed, shared=is_shared(storage)), space,
                    fingerprint=fp)
    tunings = TuningCache(root) if root is not None else None
    if starts is None:
        starts = starting_points(family, space, problem, fp=fp, cache=tunings, fingerprint_id=fp_id)
    # No more starting points than this run measures: the rest would wait in the study as
    # enqueued trials; a later run (the same command) enqueues them then.
    enqueue_starts(st, space, starts, limit=trials)

    what = "FMA peak"
    if ceiling == "auto":
        ceiling, what = (machine_ceiling(problem, root) if evaluator is None and root is not None
                         else (None, ""))
    if evaluator is None:
        if root is None:
            raise ValueError("tune needs a cache dir (root) to compile candidates in.")
        evaluator = WorkerEvaluator(problem, root, candidate_timeout, family=family.name)
    evaluator.reference_gflops = numpy_reference(st, evaluator.numpy_gflops)
    run = Search(st, space, evaluator, family=family, ceiling=ceiling, ceiling_what=what)
    # Set only when this run measured the reference: one of this run's measurements.
    if getattr(evaluator, "reference_run_share", None) is not None:
        run.stats.run_shares.append(float(evaluator.reference_run_share))
    best = None
    try:
        with progress if progress is not None else nullcontext():
            run.run(trials, on_trial=on_trial, timeout=timeout, stop=stop)
        if finish and not run.stats.interrupted:
            try:
                best = run.finish(top=3, rounds=7)
            except KeyboardInterrupt:
                run.stats.interrupted = True
        if best is None:
            best = run.finish(remeasure=False)
    finally:
        evaluator.close(kill=run.stats.interrupted)

    cached, cache_error = False, None
    counts = run.counts()
    noise = run.noise()
    load = load_average()
    if best is not None and cache and tunings is not None:
        perf = {k: best.get(k) for k in ("gflops", "gflops_iqr", "samples", "unstable")}
        perf["numpy_gflops"] = best.get("numpy_gflops")
        for key in ("alone_gflops", "after_gflops"):
            if best.get(key) is not None:
                perf[key] = best[key]
        # How far to trust the figure: the load then, and numpy's own spread across the
        # search; `cache show` says when an entry was measured under load.
        perf["load_average"] = load
        perf["numpy_spread"] = noise["spread"] if noise else None
        perf["run_share"] = noise.get("run_share") if noise else None
        perf["under_load"] = under_load(load, problem.threads, noise)
        prov = make_provenance(sampler=sampler, sampler_seed=sampler_seed, trials=counts["evaluated"],
                               study=name, interrupted=run.stats.interrupted,
                               remeasured=best["remeasured"])
        try:
            tunings.put(Entry(fp_id, problem, best["params"], perf, prov, verified=True,
                              family=family.name))
            cached = True
        except GemmtuneError as e:
            # The result is still returned: a read-only or full cache dir costs the caching,
            # not the search.
            cache_error = e.message
    doc = build_document(problem, best, run.stats, counts, study=name, storage=redact(url),
                         sampler=sampler, sampler_seed=sampler_seed, fingerprint_id=fp_id,
                         cached=cached, family=family.name)
    doc["noise"] = noise
    doc["load_average"] = load
    doc["ceiling"] = {"gflops": ceiling, "bound": what} if ceiling else (
        {"gflops": None, "bound": what} if what else None)
    if cache_error is not None:
        doc["cache_error"] = cache_error
    return doc


def under_load(load: float | None, threads: int, noise: dict[str, Any] | None) -> bool:
    """True when other work shared the machine: the load average above the search's own
    threads by half a core, numpy's figure noisy across the search, or the search's threads
    kept from their cores (the noise verdict "busy")."""
    from .plausibility import NOISY_SPREAD

    busy = load is not None and load >= threads + 0.5
    return bool(busy or (noise is not None and (noise["spread"] > NOISY_SPREAD
                                                or noise["verdict"] == "busy")))


def machine_ceiling(problem: Problem, root: str | os.PathLike) -> tuple[float | None, str]:
    """The GFLOP/s ``problem`` cannot exceed here, from the remembered (or now measured) FMA
    peak and, for a large memory-bound shape, the triad bandwidth (``plausibility.ceiling_of``).

    A peak measured on a busy machine is only a lower bound of the ceiling: a true figure
    could exceed it, so it is not used (None, "peak measured under load"), and only the
    reference check guards the figures; ``peak.py`` measures it again the next time. None
    also when the peak cannot be measured (a family without a float peak, an error).
    """
    from ..peak import TRIAD_BYTES, bandwidth, peak
    from .plausibility import _itemsize, ceiling_of

    try:
        top = peak(problem.dtype, problem.threads, root)
        if top.get("busy"):
            return None, "peak measured under load"
        nbytes = (problem.m * problem.k + problem.k * problem.n + problem.m * problem.n) \
            * problem.batch * _itemsize(problem.dtype)
        triad = bandwidth(problem.threads, root) if nbytes >= TRIAD_BYTES else None
        if triad and triad.get("busy"):
            triad = None
    except Exception:
        return None, ""
    return ceiling_of(problem, top, triad)
