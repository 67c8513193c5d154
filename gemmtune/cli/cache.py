"""``gemmtune cache list|show|path|clear``: look at and prune the stored tunings."""

from __future__ import annotations

from typing import Any

import click

from .options import dtype_option, format_gflops, given_shape, resolve_threads, shape_options, \
    threads_option
from .tables import fit_table, stdout_console

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout.")


def _entry_json(entry, local_id: str) -> dict[str, Any]:
    return {**entry.to_dict(), "this_machine": entry.fingerprint_id == local_id}


def format_value(value: Any) -> str:
    """A stored value for people: floats to four significant digits (183.9, not
    183.8622287990762), one decimal from 1000 up; the JSON keeps every digit."""
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def measured_under_load(perf: dict[str, Any]) -> str | None:
    """A sentence when a tuning's figure was measured while other work shared the machine
    (recorded by the search: ``under_load``, the load average, numpy's spread, the share of
    its cores the search got), else None."""
    from ..measure import BUSY_CPU_SHARE

    if not perf.get("under_load"):
        return None
    parts = []
    if isinstance(perf.get("load_average"), (int, float)):
        parts.append(f"load average {perf['load_average']:.2f}")
    if isinstance(perf.get("numpy_spread"), (int, float)):
        parts.append(f"numpy's figure moved by ±{100 * perf['numpy_spread']:.0f}% during the search")
    share = perf.get("run_share")
    if isinstance(share, (int, float)) and share < BUSY_CPU_SHARE:
        parts.append(f"its threads got {100 * share:.0f}% of the time they were ready to run")
    detail = f" ({', '.join(parts)})" if parts else ""
    return (f"yes{detail}: the figure may be low or scattered; search again on a quiet machine "
            "to trust it.")


@click.group()
def cache() -> None:
    """Inspect or prune the tuned configurations stored in the cache directory."""


@cache.command("list")
@json_option
@click.pass_obj
def list_(app, as_json: bool) -> None:
    """List every stored tuning; this machine's are marked with *."""
    from ..cache import TuningCache
    from ..fingerprint import fingerprint_id

    store, local = TuningCache(app.root), fingerprint_id()
    entries = sorted(store.entries(), key=lambda e: (e.fingerprint_id != local, e.key()))
    if as_json:
        app.print_json({"path": str(store.path), "fingerprint_id": local,
                        "entries": [_entry_json(e, local) for e in entries]})
        return
    if not entries:
        app.console.print(f"No tunings stored in {store.path}.", markup=False, soft_wrap=True)
        return

    console = stdout_console()
    console.print(table_of_entries(entries, local, f"Tunings in {store.path} (* this machine)",
                                   console))


def table_of_entries(entries: list, local: str, title: str, console: Any) -> Any:
    """The ``cache list`` table, fitted to ``console``'s width (at 80 columns the
    configuration folds onto two lines and numpy's figure is dropped)."""
    from rich import box
    from rich.table import Table

    # Nothing is cut: narrow, the configuration folds onto two lines, then numpy's figure goes.
    columns = (("fingerprint", "left"), ("m x n x k", "right"), ("dtype", "left"),
               ("thr", "right"), ("GFLOP/s", "right"), ("numpy", "right"),
               ("MRxNR MC/KC/NC", "left"), ("verified", "left"))

    def build(dropped: set[str], compact: bool) -> Any:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        keep = [(name, justify) for name, justify in columns if name not in dropped]
        sep = "\n" if compact else " "
        for name, justify in keep:
            table.add_column(name.replace(" ", "\n") if compact and name.startswith("MR") else name,
                             justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for e in entries:
            p, kp = e.problem, e.kernel_params
            cells = {"fingerprint": e.fingerprint_id + (" *" if e.fingerprint_id == local else ""),
                     "m x n x k": f"{p.m}x{p.n}x{p.k}" + (f" b{p.batch}" if p.batch > 1 else ""), "dtype": p.dtype, "thr": str(p.threads),
                     "GFLOP/s": format_gflops(e.performance.get("gflops")),
                     "numpy": format_gflops(e.performance.get("numpy_gflops")),
                     "MRxNR MC/KC/NC": f"{kp.MR}x{kp.NR}{sep}{kp.MC}/{kp.KC}/{kp.NC}",
                     "verified": "yes" if e.verified else "no"}
            table.add_row(*(cells[name] for name, _ in keep))
        return table

    return fit_table(console, build, ["numpy"])


@cache.command()
@shape_options
@dtype_option
@threads_option
@click.option("--fingerprint", "fid", metavar="ID",
              help="Another machine's fingerprint id (default: this machine's).")
@json_option
@click.pass_context
def show(ctx: click.Context, m, n, k, dtype: str, threads: int | None, fid: str | None,
         as_json: bool) -> None:
    """Show one tuning in full (-m -n -k [--dtype] [--threads]), or every tuning without a shape."""
    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint_id
    from ..problem import Problem

    app = ctx.obj
    store, local = TuningCache(app.root), fingerprint_id()
    shape = given_shape(m, n, k)
    if shape is not None:
        problem = Problem(*shape, dtype=dtype, threads=resolve_threads(threads))
        entry = store.get(fid or local, problem)
        if entry is None:
            raise GemmtuneError(f"No tuning for {problem.label()} on "
                                f"{'this machine' if (fid or local) == local else fid} "
                                f"in {store.path}; `gemmtune cache list` shows what is stored.")
        entries = [entry]
    else:
        source = click.core.ParameterSource.DEFAULT
        entries = store.entries(
            fingerprint_id=fid,
            dtype=None if ctx.get_parameter_source("dtype") == source else dtype,
            threads=threads)
    if as_json:
        if shape is not None:
            app.print_json({"entry": _entry_json(entries[0], local)})
        else:
            app.print_json({"entries": [_entry_json(e, local) for e in entries]})
        return
    if not entries:
        app.console.print(f"No tunings stored in {store.path} match.", markup=False, soft_wrap=True)
        return

    from rich.table import Table

    console = stdout_console()
    for e in entries:
        table = Table(title=f"{e.problem.label()}  {e.kernel_params.label()}",
                      title_justify="left", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        mark = " (this machine)" if e.fingerprint_id == local else ""
        table.add_row("fingerprint", e.fingerprint_id + mark)
        table.add_row("verified", "yes" if e.verified else "no (checked before first use)")
        load_note = measured_under_load(e.performance)
        if load_note:
            table.add_row("measured under load", load_note)
        for section, data in (("params", e.params), ("performance", e.performance),
                              ("provenance", e.provenance)):
            table.add_section()
            for key, value in data.items():
                table.add_row(f"{section}.{key}", format_value(value))
        console.print(table)


@cache.command()
@json_option
@click.pass_obj
def path(app, as_json: bool) -> None:
    """Print the path of the tunings file."""
    from ..cache import TuningCache

    store = TuningCache(app.root)
    if as_json:
        app.print_json({"path": str(store.path), "exists": store.path.exists()})
    else:
        click.echo(str(store.path))


@cache.command()
@click.option("--all", "everything", is_flag=True,
              help="Remove the tunings of every fingerprint, not only this machine's.")
@click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_obj
def clear(app, everything: bool, yes: bool, as_json: bool) -> None:
    """Remove this machine's stored tunings (all machines' with --all), after asking.

    Without a terminal to ask on (a script, a pipe), give --yes.
    """
    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint_id

    store = TuningCache(app.root)
    fid = None if everything else fingerprint_id()
    if not yes:
        count = len(store.entries(fingerprint_id=fid))
        if count:  # nothing to remove needs no question
            whose = "all machines" if fid is None else "this machine"
            prompt = (f"Remove {count} tuning{'s' if count != 1 else ''} of {whose} from "
                      f"{store.path}?")
            try:
                ok = click.confirm(prompt, default=False, err=True)
            except click.Abort:
                ok = False
            if not ok:
                raise GemmtuneError("Nothing removed (confirm with y, or give --yes).")
    removed = store.clear(fid)
    whose = "all machines" if fid is None else f"this machine ({fid})"
    app.console.print(f"Removed {removed} tuning{'s' if removed != 1 else ''} of {whose} "
                      f"from {store.path}.", markup=False, soft_wrap=True)
    if as_json:
        app.print_json({"removed": removed, "fingerprint_id": fid, "path": str(store.path)})
