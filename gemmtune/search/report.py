"""What a finished search tells: the JSON document and the table for people."""

from __future__ import annotations

from typing import Any

from ..problem import Problem
from .runner import RunStats


def build_document(problem: Problem, best: dict[str, Any] | None, stats: RunStats,
                   counts: dict[str, int], *, study: str, storage: str, sampler: str,
                   seed: int | None, fingerprint_id: str, cached: bool) -> dict[str, Any]:
    """The ``search --json`` document (CONTRACT.md's fields first)."""
    numpy = best.get("numpy_gflops") if best else None
    wall = stats.wall_seconds
    doc: dict[str, Any] = {
        "best": None if best is None else {
            "params": best["params"], "gflops": best["gflops"], "label": best["label"],
            "gflops_iqr": best.get("gflops_iqr"), "samples": best.get("samples"),
            "unstable": best.get("unstable"), "trial": best["trial"],
            "search_gflops": best["search_gflops"], "remeasured": best["remeasured"]},
        "numpy_gflops": numpy,
        "percent_of_numpy": (100.0 * best["gflops"] / numpy) if best and numpy else None,
        "trials": counts["evaluated"],
        "problem": problem.to_dict(),
        "run": {"trials": stats.evaluated, "failed": stats.failed, "pruned": stats.pruned,
                "rejected": stats.rejected, "duplicates": stats.duplicates, "wall_seconds": wall,
                "compile_seconds": stats.compile_seconds,
                "compile_share": stats.compile_seconds / wall if wall > 0 else 0.0,
                "interrupted": stats.interrupted},
        "study": {"name": study, "storage": storage, **counts},
        "sampler": sampler,
        "seed": seed,
        "fingerprint": {"id": fingerprint_id},
        "cached": cached,
        "finalists": best["finalists"] if best else [],
    }
    return doc


def render(console: Any, doc: dict[str, Any]) -> None:
    """The summary table on ``console`` (stderr)."""
    from rich.table import Table

    p = Problem.from_dict(doc["problem"])
    run, st = doc["run"], doc["study"]
    title = f"gemmtune search {p.label()}" + (" (interrupted)" if run["interrupted"] else "")
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    best = doc["best"]
    if best:
        iqr = f" ± {best['gflops_iqr'] / 2:.1f}" if best.get("gflops_iqr") is not None else ""
        table.add_row("best config", best["label"])
        table.add_row("GFLOP/s", f"{best['gflops']:.1f}{iqr}"
                      + ("" if best["remeasured"] else " (search figure, not re-measured)"))
    else:
        table.add_row("best config", "none: no candidate passed")
    numpy = doc["numpy_gflops"]
    table.add_row("numpy GFLOP/s", f"{numpy:.1f}" if numpy else "-")
    pct = doc["percent_of_numpy"]
    table.add_row("% of numpy", f"{pct:.0f}%" if pct is not None else "-")
    table.add_row("trials (this run)", f"{run['trials']} run, {run['failed']} failed, "
                  f"{run['pruned']} pruned, {run['rejected']} rejected before compiling"
                  + (f", {run['duplicates']} repeats of a measured kernel" if run.get("duplicates") else ""))
    table.add_row("trials (study)", f"{st['evaluated']} run, {st['failed']} failed, {st['pruned']} pruned")
    table.add_row("wall time", f"{run['wall_seconds']:.1f} s, {100 * run['compile_share']:.0f}% compiling")
    table.add_row("study", st["name"])
    table.add_row("cached", "yes" if doc["cached"] else "no")
    console.print(table)


class ProgressView:
    """A rich progress bar on stderr: trial i of N, best so far, elapsed and remaining time.

    Silent when stderr is not a terminal.
    """

    def __init__(self, console: Any, total: int, label: str):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.best: float | None = None
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=console,
                                 disable=not console.is_terminal, transient=False)
        self.task = self.progress.add_task(label, total=total, best="")

    def __enter__(self) -> "ProgressView":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def on_trial(self, frozen: Any) -> None:
        if "rejected" in frozen.user_attrs or "duplicate_of" in frozen.user_attrs:
            return
        fields = {}
        if frozen.value is not None and (self.best is None or frozen.value > self.best):
            from ..kernels.params import KernelParams

            self.best = frozen.value
            label = KernelParams.from_dict(frozen.user_attrs["kernel"]).label()
            fields["best"] = f"best {self.best:.1f} GFLOP/s {label}"
        self.progress.update(self.task, advance=1, **fields)
