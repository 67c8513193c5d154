"""How ``gemmtune search`` shows a search to people: a progress bar (stderr), then a summary
table (stdout), and for a suite one table of all its shapes."""

from __future__ import annotations

from typing import Any

from ..problem import Problem


def render(console: Any, doc: dict[str, Any]) -> None:
    """The summary table of one search on ``console`` (stdout; stderr under ``--json``)."""
    from rich.table import Table

    from ..dtypes import spec

    p = Problem.from_dict(doc["problem"])
    # GOP/s for the 8-bit pairs, whose paired peer is numpy's float32 BLAS on the same values.
    unit = spec(p.dtype).unit
    run, st = doc["run"], doc["study"]
    title = f"gemmtune search {p.label()}" + (" (interrupted)" if run["interrupted"] else "")
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    best = doc["best"]
    if best:
        iqr = f" ± {best['gflops_iqr'] / 2:.1f}" if best.get("gflops_iqr") is not None else ""
        table.add_row("best config", best["label"])
        table.add_row(unit, f"{best['gflops']:.1f}{iqr}"
                      + ("" if best["remeasured"] else " (search figure, not re-measured)"))
    else:
        table.add_row("best config", "none: no candidate passed")
    numpy = doc["numpy_gflops"]
    busy_numpy = bool(doc.get("percent_of_numpy_unreliable"))
    table.add_row(f"numpy {unit}" if unit == "GFLOP/s" else f"numpy float32 BLAS {unit}",
                  (f"{numpy:.1f}" + (" (on a busy machine)" if busy_numpy else ""))
                  if numpy else "-")
    table.add_row("% of numpy", percent_of_numpy(doc))
    table.add_row("trials (this run)", f"{run['trials']} run, {run['failed']} failed, "
                  f"{run['pruned']} pruned, {run['rejected']} rejected before compiling"
                  + (f", {run['duplicates']} repeats of a measured kernel" if run.get("duplicates") else ""))
    table.add_row("trials (study)", f"{st['evaluated']} run, {st['failed']} failed, {st['pruned']} pruned")
    table.add_row("wall time", f"{run['wall_seconds']:.1f} s, {100 * run['compile_share']:.0f}% compiling")
    table.add_row("study", st["name"])
    table.add_row("cached", "yes" if doc["cached"] else "no")
    console.print(table)
    from ..search.plausibility import noise_line

    faults = run.get("measurement_faults")
    if faults:
        console.print(f"{faults} candidate(s) failed with a measurement fault (a figure above the "
                      "machine's ceiling, or numpy beside it far from the study's reference, in "
                      "every measurement); see their trials.", markup=False)
    line = noise_line(doc.get("noise"))
    if line:
        console.print(line, markup=False)  # wrapped at the console's width, as the table is


def percent_of_numpy(doc: dict[str, Any], compact: bool = False) -> str:
    """The "% of numpy" cell. A ratio to a numpy measured on a busy machine is no fact about
    the kernel (OpenBLAS collapses far more than gemmtune's kernels when a core is taken):
    "-" with the figure as measured and why, or, ``compact`` (a suite's column), the figure
    marked "*" for the note under the table."""
    pct = doc.get("percent_of_numpy")
    if pct is not None:
        return f"{pct:.0f}%"
    measured = doc.get("percent_of_numpy_measured")
    if measured is None or not doc.get("percent_of_numpy_unreliable"):
        return "-"
    if compact:
        return f"{measured:.0f}%*"
    return f"- ({measured:.0f}% as measured, numpy on a busy machine)"


BUSY_NUMPY_NOTE = ("* numpy was measured on a busy machine (other work held the cores): a "
                   "marked ratio is not the kernel's speed relative to numpy's; search again on "
                   "a quiet machine.")


def render_suite(console: Any, suite: str, docs: list[dict[str, Any]], total: int,
                 command: str | None = None) -> None:
    """One row per shape of a suite search, after the per-shape tables; fitted to the width
    (at 80 columns the configuration label is dropped: each shape's own table has it).

    ``command`` titles the table (default ``--shapes SUITE``); a convolution layer's GEMMs
    (``--conv``) all have the layer's name, which the title then carries instead of a column.
    """
    from rich import box
    from rich.table import Table

    from ..dtypes import spec
    from .tables import fit_table

    # A convolution's GEMMs say which pass each one is (forward, grad_x, grad_w).
    one_name = command is not None and len({d.get("name", "") for d in docs}) <= 1
    columns = ((() if one_name else ("shape",)) + (("gemm",) if any(d.get("role") for d in docs) else ())
               + ("m x n x k", "GFLOP/s", "numpy", "% numpy", "trials", "cached", "best config"))
    unit = spec(docs[0]["problem"].get("dtype", "float32")).unit if docs else "GFLOP/s"

    def build(dropped: set[str], compact: bool) -> Any:
        done = f"{len(docs)} of {total} shapes" if len(docs) < total else f"{total} shapes"
        table = Table(title=f"gemmtune search {command or '--shapes ' + suite}: {done}",
                      title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        keep = [c for c in columns if c not in dropped]
        for name in keep:
            table.add_column(unit if name == "GFLOP/s" else name, no_wrap=True, justify="left" if name in (
                "shape", "gemm", "best config", "cached") else "right")
        for doc in docs:
            p, best = doc["problem"], doc["best"]
            size = f"{p['m']}x{p['n']}x{p['k']}" + (f" b{p['batch']}" if p.get("batch", 1) > 1 else "")
            cells = {"shape": doc.get("name", ""), "gemm": doc.get("role", ""), "m x n x k": size,
                     "GFLOP/s": f"{best['gflops']:.1f}" if best else "-",
                     "numpy": f"{doc['numpy_gflops']:.1f}" if doc["numpy_gflops"] else "-",
                     "% numpy": percent_of_numpy(doc, compact=True),
                     "trials": str(doc["run"]["trials"]),
                     "cached": "yes" if doc["cached"] else "no",
                     "best config": best["label"] if best else "none passed"}
            table.add_row(*(cells[c] for c in keep))
        return table

    console.print(fit_table(console, build, ["best config"]))
    if any(percent_of_numpy(d, compact=True).endswith("*") for d in docs):
        console.print(BUSY_NUMPY_NOTE, markup=False)


class ProgressView:
    """A rich progress bar on stderr: trial i of N, best so far, elapsed and remaining time.

    Silent when stderr is not a terminal.
    """

    def __init__(self, console: Any, total: int, label: str, family: Any = None):
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.best: float | None = None
        self.family = family
        self.total = total
        self.clock = time.monotonic
        self.started: float | None = None
        self.done = 0
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[eta]}"), console=console,
                                 disable=not console.is_terminal, transient=False)
        self.task = self.progress.add_task(label, total=total, best="", eta="")

    def __enter__(self) -> "ProgressView":
        self.started = self.clock()
        self.progress.start()
        return self

    def eta_seconds(self) -> float | None:
        """Seconds left: the candidates left times the mean time of those measured so far,
        stopped ones included (a candidate stopped early still took its time)."""
        if self.started is None or not self.done:
            return None
        return (self.clock() - self.started) / self.done * max(0, self.total - self.done)

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def on_trial(self, frozen: Any) -> None:
        if "rejected" in frozen.user_attrs or "duplicate_of" in frozen.user_attrs:
            return
        self.done += 1
        fields = {}
        eta = self.eta_seconds()
        if eta is not None:
            fields["eta"] = f"about {int(eta) // 60}:{int(eta) % 60:02d} left"
        if frozen.value is not None and (self.best is None or frozen.value > self.best):
            self.best = frozen.value
            label = self.family.parse_params(frozen.user_attrs["kernel"]).label() if self.family \
                else ""
            fields["best"] = f"best {self.best:.1f} GFLOP/s {label}"
        self.progress.update(self.task, advance=1, **fields)
