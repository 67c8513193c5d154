"""``gemmtune search``: tune a kernel for one GEMM shape (or a suite) and cache the winner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import GemmtuneError
from ..search.study import SAMPLERS
from .options import (SEED_RANGE, Seconds, dtype_option, given_shape, shape_options, suite_option,
                      threads_option)

EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def memory_needed(m: int, n: int, k: int, dtype: str) -> int:
    """Bytes a candidate's worker holds at once: A, B, C for timing, the same again for the
    check, and the float64 copies and reference product the check makes."""
    from ..dtypes import spec

    elems = m * k + k * n + m * n
    return elems * (2 * spec(dtype).itemsize + 3 * 8)


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
@click.option("-b", "--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Products in a stack of (m x k) @ (k x n) (attention heads, ...): the "
                   "batched kernel is tuned.")
@suite_option("Tune every shape of a suite")
@click.option("--conv", metavar="N,C,H,W,K,R,S[,stride,pad]", default=None,
              help="Tune the GEMMs a convolution layer lowers to (what gemmtune.conv2d and "
                   "conv2d_backward run), e.g. 1,64,56,56,64,3,3,1,1.")
@click.option("--forward-only", is_flag=True,
              help="With --conv or a suite of convolutions: tune the forward pass's GEMMs "
                   "only, not the backward pass's (grad_x, grad_w).")
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
              help="How candidates are proposed after the starting points.")
@click.option("--seed", type=SEED_RANGE, default=None, help="Seed of the sampler (reproducible proposals).")
@click.option("--storage", default=None, metavar="URL",
              help="Optuna storage URL (default: sqlite:///<cache dir>/studies.db); "
                   "postgresql://USER@HOST/DB shares the study with other machines of this "
                   "kind (needs gemmtune[postgres]).")
@click.option("--study", "study_opt", default=None, metavar="NAME",
              help="Study name (default: gemm-<fingerprint>-<problem>); with --shapes, a prefix.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the tuning history (GFLOP/s of each trial, the best so far, the "
                   "starting points marked) into FILE (.png, .svg or .pdf; needs gemmtune[plot]). "
                   "With --shapes, one file per shape: FILE's name + '-<shape name>'.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def search(ctx: click.Context, m: int | None, n: int | None, k: int | None, batch: int,
           shapes_spec: str | None, conv: str | None, forward_only: bool,
           dtype: str, threads: int | None, trials: int, timeout: float | None,
           candidate_timeout: float | None, sampler: str,
           seed: int | None, storage: str | None, study_opt: str | None, plot_path: Path | None,
           as_json: bool) -> None:
    """Search block sizes for C(m x n) = A(m x k) @ B(k x n) and cache the fastest kernel.

    Starting points (winners of nearby shapes, the BLIS analytical model, the ISA default)
    run first; then the sampler proposes. Each candidate is compiled, checked against a
    reference and timed in a worker process. Rerunning the same command continues the
    study; Ctrl-C stops cleanly and caches the best so far. The summary table goes to stdout
    (to stderr with --json), progress to stderr.
    """
    from ..fingerprint import usable_cores
    from ..problem import Problem

    app = ctx.obj
    shape = given_shape(m, n, k)
    given = [x for x, on in (("-m/-n/-k", shape is not None), ("--shapes", shapes_spec is not None),
                             ("--conv", conv is not None)) if on]
    if len(given) > 1:
        raise click.UsageError(f"Give one of -m/-n/-k, --shapes or --conv, not {' and '.join(given)}.")
    if not given:
        raise click.UsageError("Give the shape with -m, -n and -k, a suite with --shapes, or a "
                               "convolution layer with --conv.")
    if forward_only and shape is not None:
        raise click.UsageError("--forward-only applies to --conv and --shapes, not to -m/-n/-k.")
    from ..conv.spec import DIRECTIONS

    directions = DIRECTIONS[:1] if forward_only else DIRECTIONS
    cores = usable_cores()
    if threads is None:
        from .options import resolve_threads

        threads = resolve_threads(None)  # what matmul will look its tuning up with
    elif threads > cores:
        raise click.BadParameter(f"{threads} threads exceed the {cores} usable cores.",
                                 param_hint="'--threads'")
    if shapes_spec is not None:
        from ..shapes import load_shapes

        try:
            suite, shapes = load_shapes(shapes_spec, conv_directions=directions)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--shapes'") from None
        named = [(s.name, s.role, Problem(s.m, s.n, s.k, dtype, threads, batch=s.batch))
                 for s in shapes]
    elif conv is not None:
        from ..conv import ConvSpec
        from ..conv.plan import layer_gemms

        try:
            layer = ConvSpec.parse(conv)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--conv'") from None
        if dtype not in ("float32", "float64"):
            raise click.BadParameter(f"convolutions are float32 or float64, not {dtype}.",
                                     param_hint="'--dtype'")
        # What conv2d (and conv2d_backward) run, from the plan the passes read; tuned and
        # cached like any GEMM, so matmul finds the tunings too.
        suite = f"conv {layer.label()}"
        gemms = layer_gemms(layer, dtype, directions)
        numbered = len({roles[0] for _, roles in gemms}) < len(gemms)
        named = [(layer.label() + (f"/{i}" if numbered else ""), "+".join(roles),
                  g.problem(dtype, threads)) for i, (g, roles) in enumerate(gemms)]
    else:
        suite = None
        named = [("", "", Problem(*shape, dtype, threads, batch=batch))]
    for _, _, p in named:
        check_memory(p.m, p.n, p.k, p.dtype)
    from ..paths import writable_kernel_dir

    writable_kernel_dir(app.root)  # every candidate compiles there

    if plot_path is not None:
        from ..search.plot import check_plot_path

        try:
            check_plot_path(plot_path)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--plot'") from None

    docs, interrupted = [], False
    data = app.data_console(as_json)
    for i, (name, role, problem) in enumerate(named, 1):
        study = study_opt
        if study_opt and suite is not None:
            study = f"{study_opt}-{problem.key()}"
        if suite is not None:
            app.console.print(f"shape {i}/{len(named)} {name}{f' ({role})' if role else ''}: "
                              f"{problem.label()}", markup=False, soft_wrap=True)
        doc = tune(app, problem, trials=trials, timeout=timeout, candidate_timeout=candidate_timeout,
                   sampler=sampler, seed=seed, storage=storage, study=study, data=data)
        if name:
            doc["name"] = name
        if role:
            doc["role"] = role
        docs.append(doc)
        if plot_path is not None:
            from ..search.plot import plot_path_for, save_history

            target = plot_path_for(plot_path, f"{name}-{role}" if role else name, len(named))
            try:
                save_history(doc, storage, app.root, target)
                app.console.print(f"plot: {target}", markup=False, soft_wrap=True)
            except GemmtuneError as e:  # the search's result stands without its picture
                app.console.print(f"warning: no plot: {e.message}", markup=False, soft_wrap=True)
        if doc["run"]["interrupted"]:
            interrupted = True
            break
    if suite is not None:
        from .search_view import render_suite

        render_suite(data, suite, docs, total=len(named),
                     command=f"--conv {conv} ({suite[5:]})" if conv is not None else None)
    if as_json:
        app.print_json(docs[0] if suite is None else {"suite": suite, "results": docs})
    if interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if any(d["best"] is None for d in docs):
        raise GemmtuneError("no candidate compiled and passed the check; see the failed trials "
                            "in the study for the reasons.")


def tune(app: Any, problem: Any, *, trials: int, timeout: float | None,
         candidate_timeout: float | None, sampler: str, seed: int | None, storage: str | None,
         study: str | None, data: Any = None) -> dict[str, Any]:
    """Search one problem through ``gemmtune.search.tune`` with a progress bar; render it."""
    from ..families import family_for
    from ..search.tune import tune as run_tune
    from .search_view import ProgressView, render

    view = ProgressView(app.console, trials, f"search {problem.label()}", family_for(problem))
    doc = run_tune(problem, root=app.root, trials=trials, timeout=timeout,
                   candidate_timeout=candidate_timeout, sampler=sampler, sampler_seed=seed,
                   storage=storage, study=study, on_trial=view.on_trial, progress=view)
    if "cache_error" in doc:
        app.console.print(f"warning: the winner was not cached: {doc['cache_error']}", markup=False,
                          soft_wrap=True)
    render(data if data is not None else app.console, doc)
    return doc
