"""Where a benchmark is written, and the JSON and CSV it is written as.

By default the files go to ``results/<fingerprint id>/`` under the current directory (the
repository's ``results/`` when run from its root), so results of different machines never
overwrite each other. The file name says what was measured, e.g.
``bench-float32-square-256-512-t1-2``: rerunning the same command replaces its files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ..atomic import write_atomic
from ..errors import GemmtuneError

RESULTS_DIR = "results"

# batch and conv were added after the first files; readers by column name see no change.
CSV_COLUMNS = ("name", "m", "n", "k", "batch", "conv", "dtype", "threads", "contender", "config", "source",
               "gflops", "gflops_iqr", "median_seconds", "iqr_seconds", "samples", "repeats",
               "unstable", "percent_of_peak", "peak_gflops", "ceiling_gflops")


def default_output_dir(fingerprint_id: str) -> Path:
    """``results/<fingerprint id>`` relative to the current directory."""
    return Path(RESULTS_DIR) / fingerprint_id


def file_stem(dtype: str, threads: Sequence[int], *, sizes: Sequence[int] | None = None,
              suite: str | None = None, shape: tuple[int, int, int] | None = None,
              batch: int = 1, conv: str | None = None) -> str:
    """``bench-<dtype>-<what>-t<threads>``, what being the sizes, the suite, the shape (with
    ``b<batch>`` for a stack) or the layer (``conv-1-64-56-56-64-3-3-1-1``)."""
    if sizes is not None:
        what = "square-" + "-".join(str(s) for s in sizes)
    elif suite is not None:
        what = "".join(c if c.isalnum() or c in "-_" else "_" for c in suite) or "suite"
    elif shape is not None:
        what = ("" if batch == 1 else f"b{batch}-") + "x".join(str(v) for v in shape)
    elif conv is not None:
        what = "conv-" + "-".join(v.strip() for v in conv.split(","))
    else:
        what = "run"
    return f"bench-{dtype}-{what}-t{'-'.join(str(t) for t in threads)}"


def ensure_writable(directory: Path, what: str) -> Path:
    """Create ``directory`` if needed and prove a file can be written there.

    Done before measuring, so a typo in ``--output`` costs nothing.

    Raises:
        GemmtuneError: the directory cannot be created or written, in one sentence.
    """
    if directory.exists() and not directory.is_dir():  # mkdir would say "File exists"
        raise GemmtuneError(f"cannot write the {what} to {directory}: it is not a directory.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".gemmtune-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GemmtuneError(f"cannot write the {what} to {directory}: {e.strerror or e}.") from None
    return directory


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per shape, thread count and contender (numpy, onnxruntime, default, tuned, peak)."""
    rows = []
    for r in doc["results"]:
        p = r["problem"]
        conv = p.get("conv")
        base = {"name": r["name"], "m": p.get("m"), "n": p.get("n"), "k": p.get("k"),
                "batch": p.get("batch", 1) if conv is None else None,
                "conv": _conv_text(conv) if conv is not None else None, "dtype": p["dtype"],
                "threads": p["threads"], "peak_gflops": r["peak_gflops"],
                "ceiling_gflops": r["ceiling_gflops"]}
        for contender in ("numpy", "onnxruntime", "default", "tuned"):
            fig = r.get(contender)
            if fig is None:
                continue
            source = {"numpy": doc.get("blas_label"), "default": "default",
                      "onnxruntime": f"onnxruntime {(doc.get('peers') or {}).get('onnxruntime') or ''}".strip(),
                      }.get(contender, fig.get("source"))
            rows.append({**base, "contender": contender, "config": fig.get("label", ""),
                         "source": source,
                         **{k: fig.get(k) for k in ("gflops", "gflops_iqr", "median_seconds",
                                                    "iqr_seconds", "samples", "repeats",
                                                    "unstable", "percent_of_peak")}})
        if r["peak_gflops"] is not None:
            rows.append({**base, "contender": "peak", "config": "fma", "source": "measured",
                         "gflops": r["peak_gflops"], "percent_of_peak": 100.0})
    return rows


def _conv_text(conv: dict[str, Any]) -> str:
    """The layer as ``ConvSpec.parse`` reads it: N,C,H,W,K,R,S,stride,pad[,dilation,groups]
    (the first of each pair; ``gemmtune search --conv`` takes square strides and pads)."""
    v = [conv.get(key) for key in ("n", "c", "h", "w", "k", "r", "s")]
    v += [conv.get("stride", [1])[0], conv.get("padding", [0])[0]]
    if conv.get("dilation", [1])[0] != 1 or conv.get("groups", 1) != 1:
        v += [conv.get("dilation", [1])[0], conv.get("groups", 1)]
    return ",".join(str(x) for x in v)


def to_csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in csv_rows(doc):
        writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def write(doc: dict[str, Any], directory: Path, stem: str) -> dict[str, str]:
    """Write ``<stem>.json`` (everything, raw samples included) and ``<stem>.csv``.

    Returns:
        ``{"json": path, "csv": path}``.
    """
    paths = {"json": directory / f"{stem}.json", "csv": directory / f"{stem}.csv"}
    try:
        write_atomic(paths["json"], json.dumps(doc, indent=2) + "\n")
        write_atomic(paths["csv"], to_csv(doc))
    except OSError as e:
        raise GemmtuneError(f"cannot write the results to {directory}: {e.strerror or e}.") from None
    return {k: str(v) for k, v in paths.items()}
