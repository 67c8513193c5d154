"""The benchmark as a figure: GFLOP/s against size (or shape), one panel per thread count.

matplotlib is an optional extra (``pip install 'gemmtune[plot]'``); it is imported only here,
with the non-interactive Agg machinery (no display needed), and the format follows the file's
extension (PNG or SVG).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import GemmtuneError

FORMATS = (".png", ".svg")
INSTALL_HINT = "pip install 'gemmtune[plot]'"

_STYLE = {  # contender -> (label, colour, marker)
    "numpy": ("numpy @", "#1f77b4", "o"),
    "onnxruntime": ("onnxruntime", "#2ca02c", "^"),
    "default": ("gemmtune default (untuned)", "#7f7f7f", "s"),
    "tuned": ("gemmtune tuned", "#d62728", "D"),
}


def require_matplotlib() -> None:
    """Fail early, before measuring anything, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise GemmtuneError(f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}.") from None


def check_path(path: Path) -> None:
    """Raise GemmtuneError when ``path`` has no supported extension (PNG or SVG)."""
    if path.suffix.lower() not in FORMATS:
        raise GemmtuneError(f"cannot tell the plot format of {path}: use a .png or .svg file name.")


def _legend(ax: Any, rows: list[dict[str, Any]]) -> None:
    """One legend per panel (the peak differs per thread count), with a key for the
    unstable-figure rings when the panel has any."""
    handles, labels = ax.get_legend_handles_labels()
    if any(r.get(c) and r[c].get("unstable") for r in rows for c in _STYLE):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=10,
                              markerfacecolor="none", color="#ff7f0e"))
        labels.append("unstable (IQR > 10% of median)")
    keep = [(h, lab) for h, lab in zip(handles, labels) if not lab.startswith("_")]
    ax.legend([h for h, _ in keep], [lab for _, lab in keep], loc="best", fontsize=8,
              framealpha=0.9)


def title(doc: dict[str, Any]) -> str:
    fp = doc["fingerprint"]
    cpu = fp.get("brand") or fp.get("cpu_name") or "unknown CPU"
    load = (doc.get("load_average") or {}).get("start")
    busy = f"; load average {load[0]:.2f} at start" if load else ""
    return (f"gemmtune bench, {doc['dtype']}: {cpu} ({fp.get('cpu_name')}, {fp.get('cores')} cores)\n"
            f"numpy {doc.get('numpy_version')} with {doc.get('blas_label')}; fingerprint {fp['id']}{busy}")


def draw(doc: dict[str, Any], path: Path) -> Path:
    """Draw the document's results into ``path`` (.png or .svg) and return the path."""
    check_path(path)
    require_matplotlib()
    from matplotlib.figure import Figure

    from .report import shape_text

    threads = doc["threads"]
    by_t = {t: [r for r in doc["results"] if r["problem"]["threads"] == t] for t in threads}
    square = all(r["problem"].get("op") != "conv2d" and r["problem"].get("batch", 1) == 1
                 and r["problem"]["m"] == r["problem"]["n"] == r["problem"]["k"] for r in doc["results"])
    fig = Figure(figsize=(5.2 * len(threads) + 1.0, 4.8), dpi=120, layout="constrained")
    # Each thread count on its own scale: the peak doubles with the threads, and a shared axis
    # frozen by the first panel's limits would clip the others.
    axes = fig.subplots(1, len(threads), squeeze=False)[0]
    for ax, t in zip(axes, threads):
        rows = by_t[t]
        if square:
            xs = [r["problem"]["m"] for r in rows]
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.minorticks_off()
            ax.set_xlabel("matrix size N (M = N = K)")
        else:
            xs = list(range(len(rows)))
            ax.set_xticks(xs, [shape_text(r, "\n") for r in rows], fontsize=8)
            ax.set_xlabel("shape (name, M x N x K, B x for a stack; or the layer)")
        for contender, (label, colour, marker) in _STYLE.items():
            pts = [(x, r.get(contender)) for x, r in zip(xs, rows) if r.get(contender) is not None]
            if not pts:
                continue
            px = [x for x, _ in pts]
            py = [f["gflops"] for _, f in pts]
            err = [f["gflops_iqr"] / 2 for _, f in pts]
            # Sizes form a series; distinct shapes do not, so they get no connecting line.
            ax.errorbar(px, py, yerr=err, label=label, color=colour, marker=marker, capsize=3,
                        linewidth=1.6, markersize=5, linestyle="-" if square else "none")
            if contender == "tuned":
                # A configuration borrowed from another shape is drawn hollow.
                near = [(x, f["gflops"]) for x, f in pts if f.get("source") == "nearest"]
                if near:
                    ax.plot([x for x, _ in near], [y for _, y in near], linestyle="none",
                            marker=marker, markersize=9, markerfacecolor="white", color=colour,
                            label="tuned for the nearest shape")
            unstable = [(x, f["gflops"]) for x, f in pts if f.get("unstable")]
            if unstable:
                ax.plot([x for x, _ in unstable], [y for _, y in unstable], linestyle="none",
                        marker="o", markersize=13, markerfacecolor="none", color="#ff7f0e",
                        label="_unstable")
        pk = rows[0]["peak_gflops"] if rows else None
        if pk:
            ax.axhline(pk, color="black", linestyle="--", linewidth=1.2,
                       label=f"FMA peak, measured ({pk:.0f} GFLOP/s)")
        if any(r["memory_bound"] for r in rows):
            ax.plot(xs, [r["ceiling_gflops"] for r in rows], color="black", linestyle=":",
                    linewidth=1.2, label="memory-bound ceiling (triad bandwidth)")
        ax.set_title(f"{t} thread{'s' if t != 1 else ''}")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("GFLOP/s (median; bars: interquartile range)")
    for ax, t in zip(axes, threads):
        _legend(ax, by_t[t])
    fig.suptitle(title(doc), fontsize=10)
    try:
        fig.savefig(path, format=path.suffix.lower()[1:])
    except OSError as e:
        raise GemmtuneError(f"cannot write the plot to {path}: {e.strerror or e}.") from None
    return path
