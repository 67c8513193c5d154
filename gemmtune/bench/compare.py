"""``gemmtune bench --compare OLD.json``: this run against a saved one, contender by contender.

Each figure of a run is a median over interleaved rounds with its quartiles; a difference
counts only when it is beyond both runs' spread, as ``asv compare`` and
``pytest-benchmark --compare`` judge it: the new run's interquartile range of GFLOP/s and
the old one's do not overlap. Otherwise the ratio is shown but called "within spread".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import GemmtuneError

# Files written before onnxruntime was a contender have no such figure: those rows are skipped.
CONTENDERS = ("numpy", "onnxruntime", "default", "tuned")


def load_run(path: Path) -> dict[str, Any]:
    """A saved ``gemmtune bench`` JSON document.

    Raises:
        GemmtuneError: the file cannot be read or is not a bench document (one sentence).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise GemmtuneError(f"cannot read {path}: {e.strerror or e}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GemmtuneError(f"{path} is not a JSON document written by gemmtune bench.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or not doc["results"]:
        raise GemmtuneError(f"{path} is not a gemmtune bench document (it has no \"results\").")
    for r in doc["results"]:
        p = r.get("problem") if isinstance(r, dict) else None
        ok = isinstance(p, dict) and isinstance(p.get("threads"), int) and (
            all(isinstance(p.get(k), int) for k in ("m", "n", "k")) if p.get("op") != "conv2d"
            else isinstance(p.get("conv"), dict))
        if not ok:
            raise GemmtuneError(f"{path} has a result without a problem (m, n, k, threads).")
    return doc


def workloads_of(doc: dict[str, Any]) -> tuple[list[Any], str, list[int]]:
    """The workloads (``bench.run.Workload``: shapes, stacks, layers), dtype and thread
    counts a saved run measured, in its order.

    Raises:
        GemmtuneError: a saved layer that is not a valid convolution (one sentence).
    """
    from .run import Workload

    shapes: list[Any] = []
    threads: list[int] = []
    for r in doc["results"]:
        p = r["problem"]
        if p.get("op") == "conv2d":
            from ..conv.spec import ConvSpec

            try:
                spec = ConvSpec.from_dict(p["conv"])
            except (TypeError, ValueError) as e:
                raise GemmtuneError(f"the saved run has a convolution that is not valid: {e}") from None
            shape = Workload.layer(str(r.get("name") or spec.label()), spec)
        else:
            batch = p.get("batch", 1)
            shape = Workload(str(r.get("name", f"{p['m']}x{p['n']}x{p['k']}")), p["m"], p["n"], p["k"],
                             batch if isinstance(batch, int) and batch >= 1 else 1)
        if shape not in shapes:
            shapes.append(shape)
        if p["threads"] not in threads:
            threads.append(p["threads"])
    dtype = doc.get("dtype") or doc["results"][0]["problem"].get("dtype", "float32")
    return shapes, dtype, list(doc.get("threads") or threads)


def _interval(fig: dict[str, Any], flops: float | None) -> tuple[float, float]:
    """The figure's interquartile range in GFLOP/s: from its raw samples when they were kept,
    else median ± IQR/2."""
    samples = fig.get("samples_seconds")
    if flops and isinstance(samples, list) and len(samples) >= 2:
        import numpy as np

        g = flops / np.asarray(samples, dtype=float) / 1e9
        lo, hi = np.percentile(g, [25, 75])
        return float(lo), float(hi)
    half = (fig.get("gflops_iqr") or 0.0) / 2
    return fig["gflops"] - half, fig["gflops"] + half


def _key(r: dict[str, Any]) -> tuple:
    p = r["problem"]
    if p.get("op") == "conv2d":
        return ("conv2d", json.dumps(p.get("conv"), sort_keys=True), p.get("dtype"), p["threads"])
    # A file written before stacks has no "batch": its problems are single products.
    return (p["m"], p["n"], p["k"], p.get("batch", 1), p.get("dtype"), p["threads"])


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per shape, thread count and contender measured in both runs.

    Returns:
        Rows ``{"name", "problem", "contender", "old_gflops", "new_gflops", "ratio",
        "verdict"}``; verdict is "faster" or "slower" when the two runs' interquartile ranges
        do not overlap, else "within spread". A tuned row also says whether the
        configuration changed (``"same_config"``).
    """
    before = {_key(r): r for r in old["results"]}
    rows = []
    for r in new["results"]:
        o = before.get(_key(r))
        if o is None:
            continue
        for c in CONTENDERS:
            a, b = o.get(c), r.get(c)
            if not a or not b or not a.get("gflops") or not b.get("gflops"):
                continue
            lo_a, hi_a = _interval(a, o.get("flops"))
            lo_b, hi_b = _interval(b, r.get("flops"))
            if lo_b > hi_a:
                verdict = "faster"
            elif hi_b < lo_a:
                verdict = "slower"
            else:
                verdict = "within spread"
            row = {"name": r.get("name"), "problem": r["problem"], "contender": c,
                   "old_gflops": a["gflops"], "new_gflops": b["gflops"],
                   "old_interval": [lo_a, hi_a], "new_interval": [lo_b, hi_b],
                   "ratio": b["gflops"] / a["gflops"], "verdict": verdict}
            if c in ("default", "tuned"):
                row["same_config"] = a.get("label") == b.get("label")
            rows.append(row)
    return rows


def comparison_table(rows: list[dict[str, Any]], title: str, console: Any) -> Any:
    """The comparison for people, fitted to ``console``'s width (80 columns drop the
    configuration-changed column)."""
    from rich import box
    from rich.table import Table

    from ..cli.tables import fit_table
    from .report import shape_text

    columns = ("shape", "thr", "contender", "old", "new", "new / old", "verdict", "config")

    def build(dropped: set[str], compact: bool) -> Any:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        keep = [c for c in columns if c not in dropped]
        for name in keep:
            table.add_column(name, no_wrap=True, justify="right" if name in (
                "thr", "old", "new", "new / old") else "left")
        for row in rows:
            p = row["problem"]
            shape = shape_text(row, "\n" if compact else " ")
            same = row.get("same_config")
            cells = {"shape": shape, "thr": str(p["threads"]), "contender": row["contender"],
                     "old": f"{row['old_gflops']:.1f}", "new": f"{row['new_gflops']:.1f}",
                     "new / old": f"{row['ratio']:.2f}x", "verdict": row["verdict"],
                     "config": "-" if same is None else ("same" if same else "changed")}
            table.add_row(*(cells[c] for c in keep))
        return table

    return fit_table(console, build, ["config"])
