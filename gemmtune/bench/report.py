"""The benchmark table for people (on stdout, or stderr under ``--json``; programs read
``--json`` or the CSV)."""

from __future__ import annotations

from typing import Any

UNSTABLE_MARK = "?"
FAULT_MARK = "!"


def _cell(fig: dict[str, Any] | None, sep: str = " ") -> str:
    if fig is None:
        return "-"
    text = f"{fig['gflops']:.1f}{sep}±{fig['gflops_iqr'] / 2:.1f}"
    return text + (f" {UNSTABLE_MARK}" if fig.get("unstable") else "")


def _source(fig: dict[str, Any] | None, sep: str = " ") -> str:
    if fig is None:
        return f"none{sep}tuned"
    source, p = fig.get("source"), fig.get("tuned_problem")
    if source in ("nearest", "product") and p:
        # A stack may run the tuning of its product shape alone: "product (128x128x64)".
        text = f"{source}{sep}({p.get('m')}x{p.get('n')}x{p.get('k')})"
    else:
        text = str(source or "exact")
    return text + (f",{sep}= default" if fig.get("same_as_default") else "")


def shape_text(r: dict[str, Any], sep: str = " ") -> str:
    """A result row's shape as the tables show it: the name (when it says more than the
    shape) and "MxNxK", "B x MxNxK" for a stack, the layer's geometry for a convolution."""
    p = r["problem"]
    if p.get("op") == "conv2d":
        from ..conv.spec import ConvSpec

        try:
            shape = ConvSpec.from_dict(p["conv"]).label()
        except (KeyError, TypeError, ValueError):
            shape = "conv"
        return f"{r['name']}{sep}{shape}" if r.get("name") not in (None, "", shape) else shape
    shape = f"{p['m']}x{p['n']}x{p['k']}"
    plain = (shape, str(p["m"]))
    if p.get("batch", 1) != 1:
        shape = f"{p['batch']} x {shape}"
    if r.get("name") not in (None, "", shape, *plain):
        shape = f"{r['name']}{sep}{shape}"
    return shape


def _pct(value: float | None) -> str:
    return f"{value:.0f}%" if value is not None else "-"


COLUMNS = ("shape", "thr", "numpy int", "numpy", "onnxruntime", "default", "tuned", "kernel alone",
           "tuned from", "peak", "% peak", "vs numpy")
INEXACT = "inexact"


def _integer(doc: dict[str, Any]) -> bool:
    return doc.get("unit") == "GOP/s"


def results_table(doc: dict[str, Any], console: Any) -> Any:
    """The results table, fitted to ``console``'s width.

    When one line per row does not fit (80 columns), the figures fold their ``±IQR`` under
    the median, "tuned from" and a suite's shape names fold too, and if that is still too
    wide the peak column goes (the peak is also printed under the table); no cell is cut.

    An integer run (GOP/s) shows numpy's int32 loop ("numpy int", where it was timed) and
    float32 BLAS on cast inputs ("numpy f32", marked "inexact" past its exact K), and no
    peak columns: the measured peak is the float FMA loop's.
    """
    from rich import box
    from rich.table import Table

    from ..cli.tables import fit_table

    def build(dropped: set[str], compact: bool) -> Any:
        sep = "\n" if compact else " "
        table = Table(title=f"gemmtune bench, {doc['dtype']}, {doc.get('unit', 'GFLOP/s')}",
                      title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        # A contender with no figure anywhere (onnxruntime not installed, numpy's integer
        # loop for floats or large sizes, no peak for integers): no column, not one of dashes.
        absent = {c for c, key in (("onnxruntime", "onnxruntime"), ("numpy int", "numpy_int"),
                                   ("peak", "peak_gflops"), ("% peak", "peak_gflops"))
                  if not any(r.get(key) for r in doc["results"])}
        keep = [c for c in COLUMNS if c not in dropped | absent]
        headers = {"numpy": "numpy f32"} if _integer(doc) else {}
        for name in keep:
            table.add_column(headers.get(name, name).replace(" ", sep), no_wrap=True,
                             justify="left" if name in ("shape", "tuned from") else "right")
        for r in doc["results"]:
            p = r["problem"]
            best = r["tuned"] or r["default"] or {}
            peak = f"{r['peak_gflops']:.1f}" if r["peak_gflops"] else "-"
            if r["memory_bound"]:
                peak += f"{sep}(mem {r['ceiling_gflops']:.1f})"
            ratio = r["gemmtune_vs_numpy"]
            numpy = _cell(r["numpy"], sep)
            if (r["numpy"] or {}).get("inexact"):
                numpy += f"{sep}{INEXACT}"
            cells = {"shape": shape_text(r, sep), "thr": str(p["threads"]),
                     "numpy int": _cell(r.get("numpy_int"), sep), "numpy": numpy,
                     "onnxruntime": _cell(r.get("onnxruntime"), sep),
                     "default": _cell(r["default"], sep), "tuned": _cell(r["tuned"], sep),
                     "kernel alone": _cell((r["tuned"] or {}).get("kernel"), sep),
                     "tuned from": _source(r["tuned"], sep), "peak": peak,
                     "% peak": (f"{FAULT_MARK} above" if best.get("fault")
                                else _pct(best.get("percent_of_peak"))
                                + (f"{sep}mem {_pct(r['percent_of_ceiling'])}"
                                   if r.get("percent_of_ceiling") is not None else "")),
                     "vs numpy": f"{ratio:.2f}x" if ratio else "-"}
            table.add_row(*(cells[c] for c in keep))
        return table

    return fit_table(console, build, ["kernel alone", "peak", "% peak", "tuned from"])


def render(console: Any, doc: dict[str, Any], files: dict[str, str] | None = None,
           data: Any = None) -> None:
    """Print the results table, the machine and BLAS it ran on, and where the files went.

    Args:
        console: messages (notes, the files written): stderr.
        data: where the table and the lines that explain it go (stdout unless ``--json``
            holds stdout); default ``console``.
    """
    data = console if data is None else data
    fp = doc["fingerprint"]
    data.print(results_table(doc, data))
    data.print(_integer_legend(doc) if _integer(doc) else _float_legend(doc), markup=False)
    if any((r.get(c) or {}).get("fault") for r in doc["results"]
           for c in ("numpy", "numpy_int", "onnxruntime", "default", "tuned")):
        data.print(f"{FAULT_MARK} a figure above the measured FMA peak is a measurement fault "
                   "(or the peak was measured under load): no share of the peak is given; "
                   "rerun on a quiet machine, with --remeasure-peak.", markup=False)
    data.print(f"machine: {fp.get('brand') or '?'} ({fp.get('cpu_name')}, {fp.get('cores')} "
               f"usable cores), fingerprint {fp['id']}; numpy {doc.get('numpy_version')} with "
               f"{doc['blas_label']}.", markup=False)
    timeout = doc.get("blas_thread_timeout") or {}
    if timeout.get("value"):
        # What the value means, not what gemmtune's own value would (a user may have set 28).
        short = _int_or_none(timeout["value"]) is not None and _int_or_none(timeout["value"]) <= 4
        what = ("OpenBLAS's idle threads do not spin on the cores gemmtune's threads need" if short
                else "OpenBLAS's idle threads spin after each call on the cores gemmtune's "
                     "threads need: multi-threaded figures right after numpy's are low")
        data.print(f"OPENBLAS_THREAD_TIMEOUT={timeout['value']} ({timeout.get('source') or 'set'}): "
                   f"{what} (docs/performance.md section 17).", markup=False)
    spin = doc.get("omp_spin") or {}
    if spin.get("value"):
        count = _int_or_none(spin["value"])
        what = ("numba's idle OpenMP threads stop spinning soon after a parallel kernel"
                if count is not None and count <= 10000 else
                "numba's idle OpenMP threads spin after a parallel kernel on the cores a band "
                "kernel needs next")
        data.print(f"GOMP_SPINCOUNT={spin['value']} ({spin.get('source') or 'set'}): {what} "
                   "(docs/performance.md section 21).", markup=False)
    ort = (doc.get("peers") or {}).get("onnxruntime")
    if ort and any(r.get("onnxruntime") for r in doc["results"]):
        op = "MatMulInteger" if _integer(doc) else "MatMul or Conv"
        data.print(f"onnxruntime {ort}: a one-node {op} session per shape, on thr "
                   "intra-op threads (CPU execution provider).", markup=False)
    if doc["peak"]:
        peaks = ", ".join(f"{t}t {v['gflops']:.1f}" + (" (memoized)" if v.get("memoized") else "")
                          + (" (measured under load: a lower bound)" if v.get("busy") else "")
                          for t, v in doc["peak"].items())
        data.print(f"FMA peak GFLOP/s: {peaks}.", markup=False)
    busy = [v.get("load_average") for v in doc["peak"].values()
            if v.get("memoized") and (v.get("load_average") or 0) >= 0.5]
    if busy:
        console.print(f"note: the remembered peak was measured at a load of {max(busy):.2f}; "
                      "rerun with --remeasure-peak on a quiet machine.", markup=False, soft_wrap=True)
    if doc.get("bandwidth"):
        bw = ", ".join(f"{t}t {v['gbs']:.1f} GB/s" for t, v in doc["bandwidth"].items())
        data.print(f"triad bandwidth: {bw}.", markup=False)
    load = (doc.get("load_average") or {}).get("start")
    if load and load[0] >= 0.5:
        console.print(f"note: the load average was {load[0]:.2f} when the run started; other "
                      "work on the machine lowers and scatters the figures.", markup=False,
                      soft_wrap=True)
    for kind, path in (files or {}).items():
        console.print(f"{kind}: {path}", markup=False, soft_wrap=True)


def _float_legend(doc: dict[str, Any]) -> str:
    return (f"GFLOP/s: median of {doc['protocol']['rounds']} interleaved rounds ± half the "
            f"IQR; {UNSTABLE_MARK} marks an IQR above "
            f"{100 * doc['protocol']['unstable_iqr_ratio']:.0f}% of the median. "
            "% peak and vs numpy: of the tuned kernel if any, else the default. default and "
            "tuned are timed as in a loop that alternates numpy and gemmtune (each call right "
            "after a numpy call), tuned through gemmtune.matmul; kernel alone is the tuned "
            "kernel called back to back. For a memory-bound shape, peak shows the bandwidth "
            "ceiling (mem) and % peak the share of it too. A stack (B x MxNxK) counts 2*B*M*N*K "
            "flops, a convolution 2*N*K*P*Q*C*R*S/groups; its default or tuned figure is "
            "gemmtune.conv2d's, its numpy figure numpy's sliding_window_view + tensordot.")


def _integer_legend(doc: dict[str, Any]) -> str:
    from .integer import NUMPY_INT_MAX

    bounds = sorted({r["f32_exact_max_k"] for r in doc["results"] if r.get("f32_exact_max_k")})
    bound = f"K <= {bounds[0]}" if len(bounds) == 1 else "K is within its bound"
    return (f"GOP/s (2*M*N*K integer operations per second): median of "
            f"{doc['protocol']['rounds']} interleaved rounds ± half the IQR; {UNSTABLE_MARK} "
            f"marks an IQR above {100 * doc['protocol']['unstable_iqr_ratio']:.0f}% of the "
            "median. Every result was compared for exact equality with an int64 reference "
            "before it was timed. numpy int: A.astype(int32) @ B.astype(int32), numpy's integer "
            f"matmul (a plain loop, no BLAS), timed up to B*M*N*K = {NUMPY_INT_MAX}^3. numpy f32: "
            f"float32 BLAS on inputs cast before timing, exact for {doc['dtype']} only while "
            f"{bound}; past it the figure is marked {INEXACT} and not checked. vs numpy: the "
            "tuned kernel (else the default) over numpy f32. default and tuned are timed each "
            "call right after a numpy f32 call, tuned through gemmtune.matmul; kernel alone is "
            "the tuned kernel called back to back. A stack (B x MxNxK) counts 2*B*M*N*K "
            "operations; gemmtune runs it product by product, as gemmtune.matmul does. No share "
            "of a peak: the measured peak is the float FMA loop's, not an integer one.")


def _int_or_none(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
