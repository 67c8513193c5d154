"""The search's views: the ETA counts every measured candidate, stopped ones too; a
convolution's suite table names each GEMM's pass and marks stacks; a ratio to a numpy measured
on a busy machine is never printed as a fact."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from gemmtune.cli.search_view import ProgressView, render, render_suite
from gemmtune.search import plausibility as pl


def test_the_eta_counts_candidates_stopped_early():
    now = [100.0]
    view = ProgressView(Console(file=io.StringIO()), 10, "search")
    view.clock = lambda: now[0]
    with view:
        assert view.eta_seconds() is None
        for seconds, attrs in ((2.0, {}), (60.0, {"pruned": "stopped early: still measuring"}),
                               (1.0, {"rejected": "invalid"})):
            now[0] += seconds
            view.on_trial(SimpleNamespace(user_attrs=attrs, value=None))
        # Two measured candidates (the rejected point cost nothing and is not counted) took
        # 63 s in all: 8 left at 31.5 s each.
        assert view.done == 2
        assert view.eta_seconds() == 63.0 / 2 * 8


def test_a_conv_table_names_each_gemms_role_and_its_stack():
    def doc(role, m, n, k, batch):
        return {"name": "N1 C8 6x6 K8 3x3 s1 p1 g8", "role": role,
                "problem": {"m": m, "n": n, "k": k, "dtype": "float32", "threads": 1, "batch": batch},
                "best": {"gflops": 1.0, "label": "4x16"}, "numpy_gflops": 2.0,
                "percent_of_numpy": 50.0, "run": {"trials": 1}, "cached": True}

    out = io.StringIO()
    render_suite(Console(file=out, width=80), "conv N1 C8 6x6 K8 3x3 s1 p1 g8",
                 [doc("forward", 1, 36, 9, 8), doc("grad_x+grad_w", 9, 36, 1, 8)], total=2,
                 command="--conv 1,8,6,6,8,3,3,1,1,1,8")
    text = out.getvalue()
    assert "gemmtune search --conv 1,8,6,6,8,3,3,1,1,1,8" in text
    assert "forward" in text and "grad_x+grad_w" in text and "1x36x9 b8" in text
    assert "shape" not in text.split("\n")[2]  # the layer is in the title, not a column


def busy_doc(name=""):
    """A search document as issue 15 recorded it beside a busy core (numpy 15.3, kernel 56.6)."""
    return {"name": name, "problem": {"m": 512, "n": 512, "k": 512, "dtype": "float32", "threads": 2},
            "run": {"interrupted": False, "trials": 12, "failed": 0, "pruned": 0, "rejected": 0,
                    "wall_seconds": 130.0, "compile_share": 0.3},
            "study": {"name": "s", "evaluated": 12, "failed": 0, "pruned": 0},
            "best": {"label": "6x16", "gflops": 56.6, "gflops_iqr": 1.0, "remeasured": True},
            "numpy_gflops": 15.3, "percent_of_numpy": None, "percent_of_numpy_measured": 369.9,
            "percent_of_numpy_unreliable": pl.numpy_unreliable(0.6), "cached": True,
            "noise": pl.noise_summary([15.3, 15.2, 15.4, 15.3], [0.6] * 5, 0.6)}


def test_a_percent_of_numpy_against_a_busy_numpy_is_marked_not_printed_as_a_fact():
    out = io.StringIO()
    render(Console(file=out, width=100), busy_doc())
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in out.getvalue().splitlines() if line.count("│") == 3}
    assert rows["% of numpy"] == "- (370% as measured, numpy on a busy machine)"
    assert rows["numpy GFLOP/s"] == "15.3 (on a busy machine)"
    assert "machine noise: busy" in out.getvalue()

    out = io.StringIO()
    quiet = dict(busy_doc("b"), percent_of_numpy=98.4, percent_of_numpy_unreliable=None)
    render_suite(Console(file=out, width=100), "s", [busy_doc("a"), quiet], total=2)
    text = out.getvalue()
    row_a = next(line for line in text.splitlines() if line.strip().startswith("a "))
    row_b = next(line for line in text.splitlines() if line.strip().startswith("b "))
    assert " 370%* " in row_a and " 98% " in row_b
    assert "* numpy was measured on a busy machine" in text


def test_an_integer_search_speaks_in_gop_s():
    """An 8-bit pair's figures are integer operations per second; its paired numpy peer is
    float32 BLAS on the same values, counted the same way."""
    doc = dict(busy_doc("i"), problem={"m": 256, "n": 256, "k": 256, "dtype": "u8s8", "threads": 1},
               percent_of_numpy=140.0, percent_of_numpy_unreliable=None, noise=None)
    out = io.StringIO()
    render(Console(file=out, width=100), doc)
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in out.getvalue().splitlines() if line.count("│") == 3}
    assert rows["GOP/s"].startswith("56.6") and rows["numpy float32 BLAS GOP/s"].startswith("15.3")
    assert "GFLOP/s" not in out.getvalue()
    out = io.StringIO()
    render_suite(Console(file=out, width=100), "s", [doc], total=1)
    assert "GOP/s" in out.getvalue() and "GFLOP/s" not in out.getvalue()
