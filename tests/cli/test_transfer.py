"""``gemmtune export`` and ``gemmtune import`` end to end, with an isolated cache."""

from __future__ import annotations

import json

import jsonschema
import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint, fingerprint_id, usable_cores
from gemmtune.problem import Problem
from gemmtune.transfer import schema
from tests.factories import OTHER_ID, make_entry


@pytest.fixture
def store(cache_root):
    return TuningCache(cache_root)


@pytest.fixture
def filled(store):
    fid = fingerprint_id()
    entries = [make_entry(fid, 512, 512, 512, threads=usable_cores()),
               make_entry(fid, 100, 200, 300, dtype="float64", threads=1, verified=False),
               make_entry(OTHER_ID, 64, 64, 64)]
    store.put_many(entries)
    return entries


def test_export_all_then_import_round_trip(run_cli, store, filled, tmp_path):
    out = tmp_path / "tunings-export.json"
    result = run_cli("export", "--all", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Exported 2 entries" in result.stderr and result.stdout == ""
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema())
    assert doc["fingerprint"]["id"] == fingerprint_id()
    assert len(doc["entries"]) == 2  # this machine's only

    assert run_cli("cache", "clear", "--yes").exit_code == 0
    result = run_cli("import", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Imported 2 entries" in result.stderr and "skipped 0" in result.stderr
    assert store.entries(fingerprint_id()) == filled[:2]  # verified flags kept as exported


def test_export_one_shape_to_stdout(run_cli, filled):
    result = run_cli("export", "-m", "100", "-n", "200", "-k", "300", "--dtype", "f64",
                     "--threads", "1")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema())
    (entry,) = doc["entries"]
    assert entry["problem"] == {"m": 100, "n": 200, "k": 300, "dtype": "float64", "threads": 1}
    assert set(entry) >= {"problem", "params", "performance", "provenance", "fingerprint_id",
                          "verified"}


def test_export_defaults_to_float32_and_usable_cores(run_cli, filled):
    result = run_cli("export", "-m", "512", "-n", "512", "-k", "512")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["entries"][0]["problem"]["threads"] == usable_cores()


@pytest.mark.parametrize("args", [[], ["-m", "5"], ["-m", "5", "-n", "5", "-k", "5", "--all"],
                                  ["--all", "--dtype", "float16"]])
def test_export_usage_errors(run_cli, args):
    result = run_cli("export", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_export_of_missing_shape_fails_and_writes_nothing(run_cli, filled, tmp_path):
    out = tmp_path / "x.json"
    result = run_cli("export", "-m", "7", "-n", "7", "-k", "7", "-o", str(out))
    assert result.exit_code == 1
    assert "No tuning for 7x7x7" in result.stderr
    assert not out.exists()


def test_export_all_of_empty_cache(run_cli):
    result = run_cli("export", "--all")
    assert result.exit_code == 0
    assert "no tunings" in result.stderr
    assert json.loads(result.stdout)["entries"] == []


def _foreign_document(tmp_path):
    fp = fingerprint()
    fp["id"] = OTHER_ID
    doc = {"schema_version": 1, "fingerprint": fp,
           "entries": [make_entry(OTHER_ID, 96, 96, 96).to_dict()]}
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(doc))
    return path


def test_foreign_fingerprint_refused_without_force(run_cli, store, tmp_path):
    path = _foreign_document(tmp_path)
    result = run_cli("import", str(path))
    assert result.exit_code == 1
    assert "another machine" in result.stderr and "--force" in result.stderr
    assert str(path) in result.stderr
    # One entry: "its 1 entry was ... import it", not "its 1 entry were".
    assert "its 1 entry was tuned" in result.stderr and "import it unverified" in result.stderr
    assert "entry were" not in result.stderr
    assert store.entries() == [] and not store.path.exists()


def test_foreign_fingerprint_forced_is_stored_unverified(run_cli, store, tmp_path):
    result = run_cli("import", str(_foreign_document(tmp_path)), "--force")
    assert result.exit_code == 0, result.stderr
    assert "unverified" in result.stderr
    problem = Problem(96, 96, 96, "float32", 1)
    entry = store.get(fingerprint_id(), problem)
    assert entry is not None and entry.verified is False
    assert entry.provenance["imported_from"]["fingerprint_id"] == OTHER_ID
    assert store.mark_verified(fingerprint_id(), problem)
    assert store.get(fingerprint_id(), problem).verified is True


def _bad_files(tmp_path):
    fid = fingerprint_id()
    good = {"schema_version": 1, "fingerprint": {"id": fid},
            "entries": [make_entry(fid, 32, 32, 32).to_dict()]}
    bad_params = json.loads(json.dumps(good))
    bad_params["entries"][0]["params"]["NC"] = 4081
    no_gflops = json.loads(json.dumps(good))
    del no_gflops["entries"][0]["performance"]["gflops"]
    files = {"not-json.json": "{", "list.json": "[]", "empty.json": "",
             "bad-params.json": json.dumps(bad_params), "no-gflops.json": json.dumps(no_gflops)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    return [tmp_path / n for n in files] + [tmp_path / "binary.json", tmp_path / "missing.json"]


def test_bad_files_exit_1_and_leave_cache_unchanged(run_cli, store, filled, tmp_path):
    before = store.path.read_bytes()
    for path in _bad_files(tmp_path):
        result = run_cli("import", str(path))
        assert result.exit_code == 1, path
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and str(path) in lines[0], result.stderr
        assert "Traceback" not in result.stderr
        assert store.path.read_bytes() == before


def test_import_from_stdin(run_cli, store, filled):
    doc = run_cli("export", "--all").stdout
    run_cli("cache", "clear", "--yes")
    result = run_cli("import", "-", input=doc)
    assert result.exit_code == 0, result.stderr
    assert len(store.entries(fingerprint_id())) == 2
