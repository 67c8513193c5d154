"""``gemmtune cache list|show|path|clear``."""

from __future__ import annotations

import json

import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from tests.factories import OTHER_ID, make_entry


@pytest.fixture
def store(cache_root):
    store = TuningCache(cache_root)
    fid = fingerprint_id()
    store.put_many([make_entry(fid, 512, 256, 128, threads=1, gflops=31.5),
                    make_entry(fid, 64, 64, 64, dtype="float64", threads=2),
                    make_entry(OTHER_ID, 1000, 1000, 1000, gflops=77.0)])
    return store


def test_list_empty(run_cli):
    result = run_cli("cache", "list")
    assert result.exit_code == 0
    assert "No tunings" in result.stderr and result.stdout == ""
    doc = json.loads(run_cli("cache", "list", "--json").stdout)
    assert doc["entries"] == [] and doc["fingerprint_id"] == fingerprint_id()


def test_list_marks_this_machine(run_cli, store):
    result = run_cli("cache", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    mine = [ln for ln in lines if f"{fingerprint_id()} *" in ln]
    theirs = [ln for ln in lines if OTHER_ID in ln]
    assert len(mine) == 2 and len(theirs) == 1 and "*" not in theirs[0]
    assert "512x256x128" in result.stdout and "31.5" in result.stdout

    doc = json.loads(run_cli("cache", "list", "--json").stdout)
    flags = {e["fingerprint_id"]: e["this_machine"] for e in doc["entries"]}
    assert flags == {fingerprint_id(): True, OTHER_ID: False}
    assert len(doc["entries"]) == 3


def test_list_shows_a_stacks_batch(run_cli, cache_root):
    from dataclasses import replace

    entry = make_entry(fingerprint_id(), 128, 128, 64, gflops=62.5)
    TuningCache(cache_root).put_many([replace(entry, problem=replace(entry.problem, batch=96))])
    result = run_cli("cache", "list")
    assert result.exit_code == 0, result.stderr
    assert "128x128x64 b96" in result.stdout


def test_show_one(run_cli, store):
    result = run_cli("cache", "show", "-m", "512", "-n", "256", "-k", "128", "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert "params.MR" in result.stdout and "performance.gflops" in result.stdout
    doc = json.loads(run_cli("cache", "show", "-m", "64", "-n", "64", "-k", "64", "--dtype",
                             "f64", "--threads", "2", "--json").stdout)
    assert doc["entry"]["problem"]["dtype"] == "float64" and doc["entry"]["this_machine"]
    doc = json.loads(run_cli("cache", "show", "-m", "1000", "-n", "1000", "-k", "1000",
                             "--threads", "1", "--fingerprint", OTHER_ID, "--json").stdout)
    assert doc["entry"]["performance"]["gflops"] == 77.0


def test_show_missing_shape(run_cli, store):
    result = run_cli("cache", "show", "-m", "3", "-n", "3", "-k", "3")
    assert result.exit_code == 1
    assert "No tuning for 3x3x3" in result.stderr
    assert run_cli("cache", "show", "-m", "3").exit_code == 2


def test_show_all(run_cli, store):
    doc = json.loads(run_cli("cache", "show", "--json").stdout)
    assert len(doc["entries"]) == 3
    doc = json.loads(run_cli("cache", "show", "--dtype", "float64", "--json").stdout)
    assert [e["problem"]["m"] for e in doc["entries"]] == [64]
    result = run_cli("cache", "show")
    assert result.exit_code == 0 and result.stdout.count("params.NC") == 3


def test_path(run_cli, cache_root):
    result = run_cli("cache", "path")
    assert result.stdout.strip() == str(cache_root / "tunings.json")
    doc = json.loads(run_cli("cache", "path", "--json").stdout)
    assert doc == {"path": str(cache_root / "tunings.json"), "exists": False}


def test_clear_this_machine_then_all(run_cli, store):
    result = run_cli("cache", "clear", "--yes")
    assert result.exit_code == 0
    assert "Removed 2 tunings of this machine" in result.stderr
    assert [e.fingerprint_id for e in store.entries()] == [OTHER_ID]
    doc = json.loads(run_cli("cache", "clear", "--all", "--json", "-y").stdout)
    assert doc["removed"] == 1 and doc["fingerprint_id"] is None
    assert store.entries() == []


def test_corrupt_cache_is_reported_and_commands_carry_on(run_cli, cache_root):
    cache_root.mkdir()
    (cache_root / "tunings.json").write_text("{oops")
    result = run_cli("cache", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["entries"] == []
    assert "warning:" in result.stderr and str(cache_root / "tunings.json") in result.stderr
    assert "corrupt-" in result.stderr
    assert len(list(cache_root.glob("tunings.json.corrupt-*"))) == 1


def test_clear_asks_first(run_cli, store):
    result = run_cli("cache", "clear", input="n\n")
    assert result.exit_code == 1
    assert "Remove 2 tunings of this machine" in result.stderr and "Nothing removed" in result.stderr
    assert len(store.entries()) == 3
    result = run_cli("cache", "clear")        # no answer at all (a script): nothing removed
    assert result.exit_code == 1 and len(store.entries()) == 3
    result = run_cli("cache", "clear", input="y\n")
    assert result.exit_code == 0 and "Removed 2 tunings" in result.stderr
    assert [e.fingerprint_id for e in store.entries()] == [OTHER_ID]
    # Nothing of this machine left: nothing to ask about.
    result = run_cli("cache", "clear")
    assert result.exit_code == 0 and "Removed 0 tunings" in result.stderr


def test_show_says_when_an_entry_was_measured_under_load(run_cli, cache_root):
    fid = fingerprint_id()
    loaded = make_entry(fid, 96, 96, 96, threads=1, gflops=118.6)
    loaded.performance.update(gflops_iqr=122.0, load_average=2.9, numpy_spread=0.31, under_load=True)
    quiet = make_entry(fid, 80, 80, 80, threads=1)
    quiet.performance.update(load_average=0.1, numpy_spread=0.01, under_load=False)
    TuningCache(cache_root).put_many([loaded, quiet])
    out = run_cli("cache", "show", "-m", "96", "-n", "96", "-k", "96", "--threads", "1").stdout
    assert "measured under load" in out and "load average 2.90" in out and "±31%" in out
    out = run_cli("cache", "show", "-m", "80", "-n", "80", "-k", "80", "--threads", "1").stdout
    assert "measured under load" not in out
    # A search whose threads were kept from their cores, with a steady numpy (issue 15).
    busy = make_entry(fid, 64, 64, 64, threads=1)
    busy.performance.update(load_average=1.2, numpy_spread=0.01, run_share=0.6, under_load=True)
    TuningCache(cache_root).put(busy)
    out = run_cli("cache", "show", "-m", "64", "-n", "64", "-k", "64", "--threads", "1").stdout
    words = " ".join(out.replace("│", " ").split())   # the table wraps the sentence
    assert "measured under load" in words and "got 60% of the time they were ready to run" in words
