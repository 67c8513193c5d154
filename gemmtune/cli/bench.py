"""``gemmtune bench``: tuned kernels against the default configuration, numpy's BLAS,
onnxruntime (when installed) and the measured peak."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from ..errors import GemmtuneError
from .options import dtype_option, given_shape, shape_options, suite_option

DEFAULT_SIZES = (256, 512, 1024)


def _int_list(text: str, what: str, param_hint: str) -> list[int]:
    """Parse "256,512,1024" into distinct positive integers, in the given order."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise click.BadParameter(f"give at least one {what}, e.g. 256,512.", param_hint=param_hint)
    out: list[int] = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not an integer.", param_hint=param_hint) from None
        if value < 1:
            raise click.BadParameter(f"{what}s must be >= 1, got {value}.", param_hint=param_hint)
        if value not in out:
            out.append(value)
    return out


@click.command()
@shape_options
@click.option("-b", "--batch", type=click.IntRange(min=1), default=None,
              help="With -m/-n/-k: a stack of that many (m x k) @ (k x n) products, "
                   "(B, M, K) @ (B, K, N) (default 1).")
@click.option("--sizes", default=None, metavar="N,N,...",
              help="Square sizes to run, M = N = K (default: 256,512,1024).")
@click.option("--conv", metavar="N,C,H,W,K,R,S[,stride,pad]", default=None,
              help="Time one convolution layer (gemmtune.conv2d, forward) against numpy's "
                   "idiom and onnxruntime's Conv, e.g. 1,64,56,56,64,3,3,1,1.")
@suite_option("Run every shape of a suite (convolution entries as layers)")
@dtype_option
@click.option("--threads", "threads_text", default=None, metavar="T,T,...",
              help="Thread counts to compare at, e.g. 1,2 (default: the usable cores).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the JSON and CSV (default: results/<fingerprint id>/ under "
                   "the current directory).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw GFLOP/s against size into FILE (.png or .svg; needs gemmtune[plot]).")
@click.option("--rounds", type=click.IntRange(min=1), default=7, show_default=True,
              help="Interleaved rounds, i.e. samples per contender.")
@click.option("--sample-seconds", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Minimum length of one sample (calls are repeated to fill it).")
@click.option("--remeasure-peak", is_flag=True,
              help="Measure the FMA peak and triad bandwidth again instead of using the ones "
                   "remembered for this machine.")
@click.option("--bandwidth/--no-bandwidth", default=True, show_default=True,
              help="Measure the triad bandwidth, the ceiling of memory-bound (skinny) shapes.")
@click.option("--compare", "compare_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="OLD.json",
              help="Compare with a saved run (its JSON file): the ratio per contender and "
                   "whether it is beyond both runs' spread. Without -m/--sizes/--shapes, "
                   "--dtype or --threads, the saved run's are measured again.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_obj
def bench(app: Any, m: int | None, n: int | None, k: int | None, batch: int | None,
          sizes: str | None, conv: str | None, shapes_spec: str | None, dtype: str, threads_text: str | None, output: Path | None,
          plot_path: Path | None, rounds: int, sample_seconds: float, remeasure_peak: bool,
          bandwidth: bool, compare_path: Path | None, as_json: bool) -> None:
    """Compare the tuned kernel, the untuned default configuration, numpy, onnxruntime and the machine's FMA peak.

    Every contender runs at the same thread count (numba's for gemmtune, threadpoolctl's
    limit for the BLAS, intra-op threads for onnxruntime), in interleaved rounds, and reports
    the median GFLOP/s and IQR; each is checked against a float64 reference first. The
    tuned configuration is the cached one for the exact shape, else the nearest tuned shape's
    (marked "nearest"). A stack (--batch) runs gemmtune.matmul and numpy's @ on
    (B, M, K) @ (B, K, N); a layer (--conv) runs gemmtune.conv2d against numpy's
    sliding_window_view + tensordot. The onnxruntime column needs gemmtune[peers]. The
    table goes to stdout (to stderr with --json, which holds stdout); a JSON with the raw
    samples and a CSV are written to results/<fingerprint id>/ (or --output).
    """
    from ..bench.files import default_output_dir, ensure_writable, file_stem
    from ..bench.run import Workload, memory_needed, workloads_from_sizes
    from ..fingerprint import fingerprint_id, usable_cores

    shape = given_shape(m, n, k)
    if sum(x is not None for x in (shape, sizes, conv, shapes_spec)) > 1:
        raise click.UsageError("Give only one of -m/-n/-k, --sizes, --conv and --shapes.")
    if batch is not None and shape is None:
        raise click.UsageError("--batch goes with -m, -n and -k (a suite gives each entry's own).")
    layer = None
    if conv is not None:
        from ..conv.spec import ConvSpec

        try:
            layer = ConvSpec.parse(conv)   # the parser gemmtune search --conv uses
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--conv'") from None
    old_run = saved = None
    if compare_path is not None:
        from ..bench.compare import load_run, workloads_of

        old_run = load_run(compare_path)
        saved = workloads_of(old_run)
        ctx = click.get_current_context()
        if ctx.get_parameter_source("dtype") == click.core.ParameterSource.DEFAULT:
            dtype = saved[1]
        if threads_text is None:
            threads_text = ",".join(str(t) for t in saved[2])
    cores = usable_cores()
    threads = _int_list(threads_text, "thread count", "'--threads'") if threads_text is not None else [cores]
    too_many = [t for t in threads if t > cores]
    if too_many:
        raise click.BadParameter(f"{too_many[0]} threads exceed the {cores} usable cores.",
                                 param_hint="'--threads'")

    stem_args: dict[str, Any] = {}
    if shapes_spec is not None:
        from ..shapes import Shape, load_entries

        try:
            suite, entries = load_entries(shapes_spec)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--shapes'") from None
        # A convolution entry is timed as its layer; a "batch" entry as its stack.
        workloads = [Workload(e.name, e.m, e.n, e.k, e.batch) if isinstance(e, Shape)
                     else Workload.layer(e.name, e.spec) for e in entries]
        stem_args["suite"] = suite
    elif shape is not None:
        workloads = [Workload("x".join(map(str, shape)), *shape, batch or 1)]
        stem_args.update(shape=shape, batch=batch or 1)
    elif layer is not None:
        workloads = [Workload.layer(layer.label(), layer)]
        stem_args["conv"] = conv
    elif saved is not None and sizes is None:
        workloads = list(saved[0])
        stem_args["suite"] = "compare-" + Path(compare_path).stem  # type: ignore[arg-type]
    else:
        size_list = _int_list(sizes, "size", "'--sizes'") if sizes is not None else list(DEFAULT_SIZES)
        workloads = workloads_from_sizes(size_list)
        stem_args["sizes"] = size_list

    if plot_path is not None:
        from ..bench.plot import check_path, require_matplotlib

        try:
            check_path(plot_path)
        except GemmtuneError as e:
            raise click.BadParameter(e.message, param_hint="'--plot'") from None
        require_matplotlib()
    from ..dtypes import spec as dtype_spec

    if dtype_spec(dtype).kind != "float":
        raise click.BadParameter(f"gemmtune bench measures float32 and float64; for {dtype} run "
                                 "benchmarks/int8_matmul.py (VNNI, AVX2) or benchmarks/amx_matmul.py.",
                                 param_hint="'--dtype'")
    _check_memory(workloads, dtype, memory_needed)
    # Every destination is proven writable before minutes of measuring.
    out_dir = ensure_writable(output if output is not None else default_output_dir(fingerprint_id()),
                              "results")
    if plot_path is not None:
        ensure_writable(plot_path.parent if str(plot_path.parent) else Path("."), "plot")

    from ..bench.run import bench as run_bench

    with _progress(app.console) as step:
        doc = run_bench(workloads, dtype, threads, app.root, rounds=rounds,
                        sample_seconds=sample_seconds, remeasure_peak=remeasure_peak,
                        with_bandwidth=bandwidth, on_step=step,
                        on_note=lambda text: app.console.print(f"note: {text}", markup=False,
                                                               soft_wrap=True))
    from ..bench.files import write

    files = write(doc, out_dir, file_stem(dtype, threads, **stem_args))
    if plot_path is not None:
        from ..bench.plot import draw

        files["plot"] = str(draw(doc, plot_path))
    from ..bench.report import render

    data = app.data_console(as_json)
    render(app.console, doc, files, data=data)
    if old_run is not None:
        from ..bench.compare import compare, comparison_table

        rows = compare(old_run, doc)
        doc["compare"] = {"file": str(compare_path), "rows": rows}
        if not rows:
            app.console.print(f"note: {compare_path} measured none of these shapes at these "
                              "thread counts; nothing to compare.", markup=False, soft_wrap=True)
        else:
            title = f"against {Path(compare_path).name} ({old_run.get('date', '?')})"
            data.print(comparison_table(rows, title, data))
            data.print("verdict: faster/slower when the two runs' interquartile ranges of "
                       "GFLOP/s do not overlap.", markup=False)
        if old_run.get("fingerprint", {}).get("id") != doc["fingerprint"]["id"]:
            app.console.print(f"note: {compare_path} was measured on another machine or "
                              f"generator version (fingerprint "
                              f"{old_run.get('fingerprint', {}).get('id')}).", markup=False,
                              soft_wrap=True)
    if as_json:
        app.print_json({**doc, "files": files})


def _check_memory(workloads: list[Any], dtype: str, need_fn: Any) -> None:
    from .search import available_memory

    have = available_memory()
    for w in workloads:
        need = need_fn(w, dtype)
        if have is not None and need > have:
            raise GemmtuneError(f"a {w.label()} {dtype} benchmark needs about "
                                f"{need / 2**30:.1f} GiB of memory but only "
                                f"{have / 2**30:.1f} GiB is available.")


@contextlib.contextmanager
def _progress(console: Any):
    """A one-line status on a terminal (nothing when stderr is a file or pipe)."""
    if not console.is_terminal:
        yield lambda text: None
        return
    with console.status("bench") as status:
        yield lambda text: status.update(f"bench: {text}")
