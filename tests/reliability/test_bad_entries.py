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
from tests.conftest import examples
from tests.factories import make_entry

bad_figures = st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                        st.booleans(), st.none().map(lambda _: "NaN"))


def _write(root, entries) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tunings.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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

    # The search's transfer starting points read the same entries.
    from gemmtune.families import family_for
    from gemmtune.search.starts import transfer_points

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        p = Problem(250, 256, 256, "float32", 1)
        seeds = transfer_points(family_for(p), TuningCache(root), local, p)
    assert [s for _, s in seeds] == ["transfer:256x256x256"]


ABSURD = {"MR": 32, "NR": 256, "MC": 32, "KC": 8192, "NC": 256, "vec_bits": 128, "unroll": 16,
          "prefetch": 64, "parallel": "ic", "pack_a": True, "pack_b": True}


def _raw_entry(params: dict, m: int = 40, dtype: str = "float64") -> dict:
    return {"fingerprint_id": fingerprint_id(), "problem": {"m": m, "n": 40, "k": 40, "dtype": dtype,
                                                            "threads": 1},
            "params": params, "performance": {"gflops": 1.0}, "provenance": {}, "verified": True}


def test_import_refuses_a_configuration_beyond_the_register_file(run_cli, tmp_path, cache_root):
    from gemmtune.fingerprint import fingerprint

    doc = {"schema_version": 1, "fingerprint": fingerprint(), "entries": [_raw_entry(ABSURD)]}
    path = tmp_path / "absurd.json"
    path.write_text(json.dumps(doc))
    result = run_cli("import", str(path))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "outside the search space: a 32 x 128-vector tile needs 4225 vector registers" in result.stderr
    assert not (cache_root / "tunings.json").exists()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mr=st.integers(1, 32), nr_vecs=st.integers(1, 64), vec_bits=st.sampled_from([128, 256, 512]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_a_stored_tile_is_used_exactly_when_it_fits_the_register_file(tmp_path_factory, mr,
                                                                      nr_vecs, vec_bits, dtype):
    from gemmtune.kernels.params import MAX_NR, lanes

    nr = nr_vecs * lanes(vec_bits, dtype)
    if nr > MAX_NR:
        return
    params = {**ABSURD, "MR": mr, "NR": nr, "MC": mr, "NC": nr, "vec_bits": vec_bits, "unroll": 8}
    root = tmp_path_factory.mktemp("c") / "cache"
    _write(root, [_raw_entry(params, dtype=dtype)])
    from gemmtune import fingerprint as fpmod
    from gemmtune.search.space import machine_vectors

    need = mr * nr_vecs + nr_vecs + 1
    widths, registers = machine_vectors(fpmod)
    # Past 32 registers no machine's search would explore the tile: the file's entry is
    # skipped as it is read. Past this machine's registers (or vector width) it is kept in
    # the file for the machines it fits, and never run here.
    anywhere = need <= 32
    here = need <= registers and vec_bits <= max(widths)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        found = gemmtune.best_config(40, 40, 40, dtype, threads=1, cache_dir=root)
    if anywhere and here:
        assert found["source"] == "exact" and found["params"]["MR"] == mr and not rec
    else:
        assert found["source"] == "default"
        if not anywhere:
            assert any("outside the search space" in str(w.message) for w in rec)


def test_an_unroll_beyond_the_search_is_skipped(tmp_path):
    root = tmp_path / "cache"
    _write(root, [_raw_entry({**ABSURD, "MR": 4, "NR": 8, "MC": 8, "NC": 16, "unroll": 16})])
    with pytest.warns(CacheWarning, match="unroll=16 is above 8, the largest the search tries"):
        assert gemmtune.best_config(40, 40, 40, "float64", threads=1, cache_dir=root)["source"] == "default"
