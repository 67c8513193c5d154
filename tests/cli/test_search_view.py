"""The search's views: the ETA counts every measured candidate, stopped ones too; a
convolution's suite table names each GEMM's pass and marks stacks."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from gemmtune.cli.search_view import ProgressView, render_suite


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
