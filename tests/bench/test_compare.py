"""``gemmtune bench --compare``: ratios, and a verdict only beyond both runs' spread."""

from __future__ import annotations

import io
import json

import pytest

from gemmtune.bench.compare import compare, comparison_table, load_run, workloads_of
from gemmtune.bench.run import Workload
from gemmtune.cli.tables import make_console
from gemmtune.errors import GemmtuneError


def _fig(seconds: list[float], flops: float, label: str | None = None) -> dict:
    import statistics

    g = sorted(flops / s / 1e9 for s in seconds)
    fig = {"gflops": statistics.median(g), "gflops_iqr": g[-1] - g[0],
           "samples_seconds": seconds}
    if label:
        fig["label"] = label
    return fig


def _run(numpy_s, tuned_s, label="a", threads=1, name="square") -> dict:
    flops = 2.0 * 512**3
    return {"dtype": "float32", "threads": [threads], "date": "2026-12-01",
            "fingerprint": {"id": "f"},
            "results": [{"name": name, "flops": flops,
                         "problem": {"m": 512, "n": 512, "k": 512, "dtype": "float32",
                                     "threads": threads},
                         "numpy": _fig(numpy_s, flops), "default": None,
                         "tuned": _fig(tuned_s, flops, label)}]}


def test_verdict_needs_disjoint_spreads():
    old = _run([0.010, 0.0102, 0.0101, 0.0103], [0.0100, 0.0104, 0.0102, 0.0101])
    # numpy unchanged (within spread); tuned clearly faster; a noisy tuned run overlaps.
    new = _run([0.0101, 0.0100, 0.0102, 0.0104], [0.0080, 0.0081, 0.0079, 0.0080], label="b")
    rows = {r["contender"]: r for r in compare(old, new)}
    assert set(rows) == {"numpy", "tuned"}          # "default" was not measured
    assert rows["numpy"]["verdict"] == "within spread"
    assert rows["tuned"]["verdict"] == "faster" and rows["tuned"]["ratio"] > 1.2
    assert rows["tuned"]["same_config"] is False
    slower = {r["contender"]: r for r in compare(new, old)}
    assert slower["tuned"]["verdict"] == "slower" and slower["tuned"]["ratio"] < 0.85
    noisy = _run([0.0101] * 4, [0.0080, 0.0120, 0.0075, 0.0110])
    assert {r["contender"]: r for r in compare(old, noisy)}["tuned"]["verdict"] == "within spread"


def test_without_samples_the_iqr_is_used():
    old = _run([0.01] * 3, [0.01] * 3)
    new = _run([0.01] * 3, [0.01] * 3)
    for doc in (old, new):
        for c in ("numpy", "tuned"):
            doc["results"][0][c].pop("samples_seconds")
    new["results"][0]["tuned"].update(gflops=30.0, gflops_iqr=2.0)
    old["results"][0]["tuned"].update(gflops=27.0, gflops_iqr=2.0)   # 26-28 against 29-31
    assert {r["contender"]: r["verdict"] for r in compare(old, new)}["tuned"] == "faster"
    old["results"][0]["tuned"].update(gflops=28.5)                    # 27.5-29.5 overlaps
    assert {r["contender"]: r["verdict"] for r in compare(old, new)}["tuned"] == "within spread"


def test_only_common_problems_compare():
    assert compare(_run([0.01] * 3, [0.01] * 3), _run([0.01] * 3, [0.01] * 3, threads=2)) == []


def test_table_reads_at_80_columns():
    rows = compare(_run([0.01] * 3, [0.01] * 3), _run([0.01] * 3, [0.008] * 3))
    console = make_console(io.StringIO())
    console.print(comparison_table(rows, "against old.json", console))
    out = console.file.getvalue()
    assert "square" in out and "512x512x512" in out and "1.25x" in out and "faster" in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80 and "…" not in out


def test_saved_run_is_read_and_checked(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_run([0.01] * 3, [0.01] * 3, name="qkv")))
    shapes, dtype, threads = workloads_of(load_run(path))
    assert shapes == [Workload("qkv", 512, 512, 512)] and dtype == "float32" and threads == [1]
    for text, words in (("{oops", "not a JSON document"), ("[]", "no \"results\""),
                        (json.dumps({"results": [{"problem": {"m": 1}}]}), "without a problem")):
        path.write_text(text)
        with pytest.raises(GemmtuneError, match=words):
            load_run(path)
    with pytest.raises(GemmtuneError, match="cannot read"):
        load_run(tmp_path / "missing.json")


def test_stacks_layers_and_onnxruntime_compare_and_old_files_still_do(tmp_path):
    """A file of today (stacks, layers, an onnxruntime figure) against one written before
    them: the rows and contenders both have are compared, the rest are skipped."""
    old = _run([0.01] * 3, [0.01] * 3)
    new = _run([0.01] * 3, [0.01] * 3)
    new["results"][0]["onnxruntime"] = _fig([0.02] * 3, 2.0 * 512**3)
    stack = json.loads(json.dumps(new["results"][0]))
    stack["problem"]["batch"] = 4
    conv = {"n": 1, "c": 8, "h": 10, "w": 10, "k": 8, "r": 3, "s": 3, "stride": [1, 1],
            "padding": [1, 1], "dilation": [1, 1], "groups": 1, "layout": "NCHW"}
    layer = {"name": "l1", "flops": 1e6, "problem": {"op": "conv2d", "conv": conv, "dtype": "float32",
                                                     "threads": 1},
             "numpy": _fig([0.01] * 3, 1e6), "default": _fig([0.01] * 3, 1e6), "tuned": None}
    new["results"] += [stack, layer]
    rows = compare(old, new)
    assert [(r["contender"], r["problem"].get("batch", 1)) for r in rows] == [("numpy", 1), ("tuned", 1)]
    assert {r["contender"] for r in compare(new, new)} == {"numpy", "onnxruntime", "default", "tuned"}
    assert len([r for r in compare(new, new) if r["problem"].get("op") == "conv2d"]) == 2
    path = tmp_path / "new.json"
    path.write_text(json.dumps(new))
    shapes, _, _ = workloads_of(load_run(path))
    assert [(w.batch, w.conv is not None) for w in shapes] == [(1, False), (4, False), (1, True)]
    console = make_console(io.StringIO())
    console.print(comparison_table(compare(new, new), "against new.json", console))
    out = console.file.getvalue()
    assert "4 x 512x512x512" in out and "N1 C8 10x10 K8 3x3 s1 p1" in out
