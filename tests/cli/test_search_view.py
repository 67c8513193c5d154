"""The search's progress view: the ETA counts every measured candidate, stopped ones too."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from gemmtune.cli.search_view import ProgressView


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
