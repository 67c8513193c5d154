"""``gemmtune search``: tune a kernel for one GEMM shape (or a suite) and cache the winner."""

from __future__ import annotations

from typing import Any

import click

from ..errors import GemmtuneError
from ..search.study import SAMPLERS
from .options import SEED_RANGE, Seconds, dtype_option, given_shape, shape_options, threads_option

EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def memory_needed(m: int, n: int, k: int, dtype: str) -> int:
    """Bytes a candidate's worker holds at once: A, B, C for timing, the same again for the
    check, and the float64 copies and reference product the check makes."""
    from ..kernels.params import ITEMSIZE

    elems = m * k + k * n + m * n
    return elems * (2 * ITEMSIZE[dtype] + 3 * 8)


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(m: int, n: int, k: int, dtype: str) -> None:
    need, have = memory_needed(m, n, k, dtype), available_memory()
    if have is not None and need > have:
        raise GemmtuneError(f"a {m}x{n}x{k} {dtype} search needs about {need / 2**30:.1f} GiB "
                            f"of memory but only {have / 2**30:.1f} GiB is available.")


@click.command()
@shape_options
@click.option("--shapes", "shapes_spec", metavar="FILE",
              help="Tune every shape of a suite: a JSON file, or a shipped suite name "
                   "(transformer, mlp).")
@dtype_option
@threads_option
@click.option("--trials", type=click.IntRange(min=1), default=40, show_default=True,
              help="Candidates to compile and measure (points rejected before compiling do not count).")
@click.option("--timeout", type=Seconds(), default=None,
              help="Stop starting candidates after this many seconds (per shape); the "
                   "finish still runs.")
@click.option("--candidate-timeout", type=Seconds(), default=None,
              help="Seconds one candidate may take before its worker is killed and the trial "
                   "marked failed (default: scaled with the problem size).")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True,
              help="How candidates are proposed after the seeds.")
@click.option("--seed", type=SEED_RANGE, default=None, help="Seed of the sampler (reproducible proposals).")
@click.option("--storage", default=None, metavar="URL",
              help="Optuna storage URL (default: sqlite:///<cache dir>/studies.db); "
                   "postgresql://USER@HOST/DB shares the study with other machines of this "
                   "kind (needs gemmtune[postgres]).")
@click.option("--study", "study_opt", default=None, metavar="NAME",
              help="Study name (default: gemm-<fingerprint>-<problem>); with --shapes, a prefix.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def search(ctx: click.Context, m: int | None, n: int | None, k: int | None, shapes_spec: str | None,
           dtype: str, threads: int | None, trials: int, timeout: float | None,
           candidate_timeout: float | None, sampler: str,
           seed: int | None, storage: str | None, study_opt: str | None, as_json: bool) -> None:
    """Search block sizes for C(m x n) = A(m x k) @ B(k x n) and cache the fastest kernel.

    Seeds (the BLIS analytical model, the ISA family's config, winners of nearby shapes)
    run first; then the sampler proposes. Each candidate is compiled, checked against a
    reference and timed in a worker process. Rerunning the same command continues the
    study; Ctrl-C stops cleanly and caches the best so far.
    """
    from ..fingerprint import usable_cores
    from ..problem import Problem

    app = ctx.obj
    shape = given_shape(m, n, k)
    if shape is not None and shapes_spec is not None:
        raise click.UsageError("Give either -m/-n/-k or --shapes, not both.")
    if shape is None and shapes_spec is None:
        raise click.UsageError("Give the shape with -m, -n and -k, or a suite with --shapes.")
    cores = usable_cores()
    if threads is None:
        threads = cores
    elif threads > cores:
        raise click.BadParameter(f"{threads} threads exceed the {cores} usable cores.",
                                 param_hint="'--threads'")
    if shapes_spec is not None:
        from ..shapes import load_shapes

        try:
            suite, shapes = load_shapes(shapes_spec)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--shapes'") from None
        named = [(s.name, Problem(s.m, s.n, s.k, dtype, threads)) for s in shapes]
    else:
        suite = None
        named = [("", Problem(*shape, dtype, threads))]
    for _, p in named:
        check_memory(p.m, p.n, p.k, p.dtype)
    from ..paths import writable_kernel_dir

    writable_kernel_dir(app.root)  # every candidate compiles there

    docs, interrupted = [], False
    for name, problem in named:
        study = study_opt
        if study_opt and suite is not None:
            study = f"{study_opt}-{problem.key()}"
        doc = tune(app, problem, trials=trials, timeout=timeout, candidate_timeout=candidate_timeout,
                   sampler=sampler, seed=seed, storage=storage, study=study)
        if name:
            doc["name"] = name
        docs.append(doc)
        if doc["run"]["interrupted"]:
            interrupted = True
            break
    if as_json:
        app.print_json(docs[0] if suite is None else {"suite": suite, "results": docs})
    if interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if any(d["best"] is None for d in docs):
        raise GemmtuneError("no candidate compiled and passed the check; see the failed trials "
                            "in the study for the reasons.")


def tune(app: Any, problem: Any, *, trials: int, timeout: float | None,
         candidate_timeout: float | None, sampler: str, seed: int | None, storage: str | None,
         study: str | None) -> dict[str, Any]:
    """Search one problem: seeds, trials, finish, cache; the ``--json`` document."""
    from ..cache import Entry, TuningCache, make_provenance
    from ..fingerprint import fingerprint
    from ..search.evaluators import WorkerEvaluator
    from ..search.report import ProgressView, build_document, render
    from ..search.runner import Search
    from ..search.seeds import seeds_for
    from ..search.space import SearchSpace
    from ..search.study import (enqueue_seeds, is_shared, make_sampler, numpy_reference,
                                open_storage, open_study, redact, study_name)

    fp = fingerprint()
    fp_id = fp["id"]
    space = SearchSpace.for_fingerprint(problem.dtype, problem.threads, fp)
    store, url = open_storage(storage, app.root)
    name = study or study_name(fp_id, problem)
    st = open_study(store, name, problem, fp_id,
                    make_sampler(sampler, space, seed, shared=is_shared(storage)), space,
                    fingerprint=fp)
    cache = TuningCache(app.root)
    enqueue_seeds(st, space, seeds_for(space, problem, fp=fp, cache=cache, fingerprint_id=fp_id))

    evaluator = WorkerEvaluator(problem, app.root, candidate_timeout)
    evaluator.reference_gflops = numpy_reference(st, evaluator.numpy_gflops)
    run = Search(st, space, evaluator)
    best = None
    try:
        with ProgressView(app.console, trials, f"search {problem.label()}") as view:
            run.run(trials, on_trial=view.on_trial, timeout=timeout)
        if not run.stats.interrupted:
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
    if best is not None:
        perf = {k: best.get(k) for k in ("gflops", "gflops_iqr", "samples", "unstable")}
        perf["numpy_gflops"] = best.get("numpy_gflops")
        prov = make_provenance(sampler=sampler, seed=seed, trials=counts["evaluated"], study=name,
                               interrupted=run.stats.interrupted, remeasured=best["remeasured"])
        try:
            cache.put(Entry(fp_id, problem, best["params"], perf, prov, verified=True))
            cached = True
        except GemmtuneError as e:
            # The result is still printed: a read-only or full cache dir costs the caching,
            # not the search.
            cache_error = e.message
            app.console.print(f"warning: the winner was not cached: {e.message}", markup=False,
                              soft_wrap=True)
    doc = build_document(problem, best, run.stats, counts, study=name, storage=redact(url),
                         sampler=sampler, seed=seed, fingerprint_id=fp_id, cached=cached)
    if cache_error is not None:
        doc["cache_error"] = cache_error
    render(app.console, doc)
    return doc
