"""Entries of a tunings file that would break a later step are skipped with a warning, as
other invalid entries are (issue 14: item 2, a figure that is not a finite number; item 5,
a configuration outside the search space)."""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gemmtune
from gemmtune.cache import CacheWarning, TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem
from tests.factories import make_entry

bad_figures = st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                        st.booleans(), st.none().map(lambda _: "NaN"))


def _write(root, entries) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tunings.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(figure=bad_figures)
def test_a_figure_that_is_not_a_number_skips_that_entry_only(tmp_path_factory, figure):
    root = tmp_path_factory.mktemp("c") / "cache"
    local = fingerprint_id()
    good = make_entry(local, 256, 256, 256, threads=1).to_dict()
    bad = make_entry(local, 250, 256, 256, threads=1).to_dict()
    bad["performance"]["gflops"] = figure
    _write(root, [bad, good])
    with pytest.warns(CacheWarning, match="entry 0 is ignored: performance.gflops must be"):
        found = gemmtune.best_config(250, 256, 256, "float32", threads=1, cache_dir=root)
    assert found is not None and found["problem"]["m"] == 256 and found["source"] == "nearest"

    # The search's transfer seeds read the same entries.
    from gemmtune.search.seeds import transfer_params

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        seeds = transfer_params(TuningCache(root), local, Problem(250, 256, 256, "float32", 1))
    assert [s for _, s in seeds] == ["transfer:256x256x256"]
