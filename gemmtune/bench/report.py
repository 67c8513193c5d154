"""The benchmark table for people (on stderr; programs read ``--json`` or the CSV)."""

from __future__ import annotations

from typing import Any

UNSTABLE_MARK = "?"
FAULT_MARK = "!"


def _cell(fig: dict[str, Any] | None) -> str:
    if fig is None:
        return "-"
    text = f"{fig['gflops']:.1f} ±{fig['gflops_iqr'] / 2:.1f}"
    return text + (f" {UNSTABLE_MARK}" if fig.get("unstable") else "")


def _source(fig: dict[str, Any] | None) -> str:
    if fig is None:
        return "none tuned"
    if fig.get("source") == "nearest":
        p = fig.get("tuned_problem") or {}
        text = f"nearest ({p.get('m')}x{p.get('n')}x{p.get('k')})"
    else:
        text = "exact"
    return text + (", = default" if fig.get("same_as_default") else "")


def _pct(value: float | None) -> str:
    return f"{value:.0f}%" if value is not None else "-"


def _wide(console: Any) -> Any:
    """``console``, or for a pipe or file (no width to detect, so rich assumes 80 columns and
    squeezes the table) a console on the same stream with room for the whole table."""
    if console.is_terminal:
        return console
    from rich.console import Console

    from ..cli.tables import PIPE_WIDTH

    return Console(file=console.file, width=PIPE_WIDTH, no_color=console.no_color, highlight=False)


def render(console: Any, doc: dict[str, Any], files: dict[str, str] | None = None) -> None:
    """Print the results table, the machine and BLAS it ran on, and where the files went."""
    from rich.table import Table

    fp = doc["fingerprint"]
    faults = False
    table = Table(title=f"gemmtune bench, {doc['dtype']}", title_justify="left")
    for name, justify in (("shape", "left"), ("thr", "right"), ("numpy", "right"),
                          ("default", "right"), ("tuned", "right"), ("kernel alone", "right"),
                          ("tuned from", "left"),
                          ("peak", "right"), ("best % peak", "right"), ("best / numpy", "right")):
        table.add_column(name, justify=justify, no_wrap=name in ("shape", "tuned from"))
    for r in doc["results"]:
        p = r["problem"]
        best = r["tuned"] or r["default"]
        peak = f"{r['peak_gflops']:.1f}" if r["peak_gflops"] else "-"
        if r["memory_bound"]:
            peak += f" (mem {r['ceiling_gflops']:.1f})"
        ratio = r["gemmtune_vs_numpy"]
        shape = f"{p['m']}x{p['n']}x{p['k']}"
        if r["name"] not in (shape, str(p["m"])):
            shape = f"{r['name']} {shape}"
        faults = faults or any((r.get(c) or {}).get("fault") for c in ("numpy", "default", "tuned"))
        pct = _pct(best["percent_of_peak"]) if not best.get("fault") else f"{FAULT_MARK} above"
        table.add_row(shape, str(p["threads"]), _cell(r["numpy"]), _cell(r["default"]),
                      _cell(r["tuned"]), _cell((r["tuned"] or {}).get("kernel")), _source(r["tuned"]),
                      peak, pct, f"{ratio:.2f}x" if ratio else "-")
    _wide(console).print(table)
    console.print(f"GFLOP/s: median of {doc['protocol']['rounds']} interleaved rounds ± half the "
                  f"IQR; {UNSTABLE_MARK} marks an IQR above "
                  f"{100 * doc['protocol']['unstable_iqr_ratio']:.0f}% of the median. "
                  "best = tuned if any, else default. default and tuned are timed as in a loop that "
                  "alternates numpy and gemmtune (each call right after a numpy call), tuned "
                  "through gemmtune.matmul; kernel alone is the tuned kernel called back to back.",
                  markup=False, soft_wrap=True)
    if faults:
        console.print(f"{FAULT_MARK} a figure above the measured FMA peak is a measurement fault "
                      "(or the peak was measured under load): no share of the peak is given; "
                      "rerun on a quiet machine, with --remeasure-peak.", markup=False, soft_wrap=True)
    console.print(f"machine: {fp.get('brand') or '?'} ({fp.get('cpu_name')}, {fp.get('cores')} "
                  f"usable cores), fingerprint {fp['id']}; numpy {doc.get('numpy_version')} with "
                  f"{doc['blas_label']}.", markup=False, soft_wrap=True)
    peaks = ", ".join(f"{t}t {v['gflops']:.1f}" + (" (memoized)" if v.get("memoized") else "")
                      + (" (measured under load: a lower bound)" if v.get("busy") else "")
                      for t, v in doc["peak"].items())
    console.print(f"FMA peak GFLOP/s: {peaks}.", markup=False, soft_wrap=True)
    busy = [v.get("load_average") for v in doc["peak"].values()
            if v.get("memoized") and (v.get("load_average") or 0) >= 0.5]
    if busy:
        console.print(f"note: the remembered peak was measured at a load of {max(busy):.2f}; "
                      "rerun with --remeasure-peak on a quiet machine.", markup=False, soft_wrap=True)
    if doc.get("bandwidth"):
        bw = ", ".join(f"{t}t {v['gbs']:.1f} GB/s" for t, v in doc["bandwidth"].items())
        console.print(f"triad bandwidth: {bw}.", markup=False, soft_wrap=True)
    load = (doc.get("load_average") or {}).get("start")
    if load and load[0] >= 0.5:
        console.print(f"note: the load average was {load[0]:.2f} when the run started; other "
                      "work on the machine lowers and scatters the figures.", markup=False,
                      soft_wrap=True)
    for kind, path in (files or {}).items():
        console.print(f"{kind}: {path}", markup=False, soft_wrap=True)
