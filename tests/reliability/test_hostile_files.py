"""Hostile files: `import` refuses them in one sentence and the cache is left byte for byte as
it was; a hostile tunings file is moved aside (or its bad entries ignored) and gemmtune carries
on. See hostile.py for the kinds of damage drawn."""

from __future__ import annotations

import json
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gemmtune
from gemmtune.cache import Entry, TuningCache
from gemmtune.fingerprint import fingerprint, fingerprint_id
from gemmtune.kernels.params import KernelParams, PARALLEL_LOOPS
from gemmtune.transfer import build_document, schema
from tests.conftest import examples
from tests.factories import OTHER_ID, make_entry

from .hostile import hostile, json_values

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                          HealthCheck.too_slow])


def _entries() -> list[Entry]:
    fid = fingerprint_id()
    return [make_entry(fid, 32, 32, 32),
            make_entry(fid, 64, 48, 40, dtype="float64", threads=2, gflops=3.5, parallel="m",
                       pack_b=False)]


@lru_cache(maxsize=1)
def export_text() -> str:
    return json.dumps(build_document(_entries(), fingerprint()))


def tunings_document() -> dict[str, Any]:
    return {"schema_version": 1,
            "entries": [e.to_dict() for e in _entries()]
            + [make_entry(OTHER_ID, 16, 16, 16).to_dict()]}


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in --json output")

    return json.loads(text, parse_constant=refuse)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_schema_knows_every_kernel_parameter():
    # An export of any valid tuning must pass the schema its import checks against.
    params = schema()["$defs"]["params"]["properties"]
    assert set(params) == set(KernelParams.FIELDS)
    assert params["parallel"]["enum"] == list(PARALLEL_LOOPS)


@settings(SETTINGS, max_examples=examples(80))
@given(case=st.data())
def test_import_refuses_hostile_files_and_leaves_the_cache_as_it_was(run_cli, cache_root, tmp_path,
                                                                     case):
    store = TuningCache(cache_root)
    if not store.path.exists():
        store.put_many([make_entry(OTHER_ID, 8, 8, 8), make_entry(fingerprint_id(), 24, 24, 24)])
    before = _snapshot(cache_root)
    kind, data = case.draw(hostile(json.loads(export_text()), export=True), label="file")
    path = tmp_path / "hostile.json"
    path.write_bytes(data)

    result = run_cli("import", str(path))

    assert result.exit_code == 1, (kind, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), (kind, result.stderr[:2000])
    assert str(path) in lines[0] and len(lines[0]) < 600
    assert result.stdout == ""
    assert _snapshot(cache_root) == before


@settings(SETTINGS, max_examples=examples(25))
@given(case=st.data())
def test_unknown_fields_outside_params_are_ignored(run_cli, cache_root, tmp_path, case):
    doc = json.loads(export_text())
    entry = doc["entries"][0]
    for where in (doc, doc["fingerprint"], entry, entry["problem"], entry["performance"]):
        extra = case.draw(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=2))
        where.update({k: v for k, v in extra.items() if k not in where})
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(doc))
    TuningCache(cache_root).clear()

    result = run_cli("import", str(path))

    assert result.exit_code == 0, result.stderr
    stored = TuningCache(cache_root).entries()
    assert [(e.problem, e.params) for e in stored] == [(e.problem, e.params) for e in
                                                       sorted(_entries(), key=Entry.key)]


def _usable(data: bytes) -> list[Entry]:
    """The entries of a tunings file that a reader may return (the oracle: Entry.from_dict)."""
    out = []
    for raw in json.loads(data)["entries"]:
        try:
            out.append(Entry.from_dict(raw))
        except (ValueError, TypeError):
            pass
    return out


def _survived(root: Path, data: bytes) -> bool:
    """The file's bytes are still there: in place, or in exactly one file moved aside."""
    kept = [p.read_bytes() for p in root.iterdir()
            if p.name == "tunings.json" or p.name.startswith("tunings.json.corrupt-")]
    return kept == [data]


@settings(SETTINGS, max_examples=examples(50))
@given(case=st.data())
def test_hostile_tunings_file_is_moved_aside_or_its_bad_entries_ignored(run_cli, tmp_path, case):
    kind, data = case.draw(hostile(tunings_document(), export=False), label="file")
    roots = [Path(tempfile.mkdtemp(dir=tmp_path)) for _ in range(3)]
    for root in roots:
        (root / "tunings.json").write_bytes(data)

    listed = run_cli("--cache-dir", str(roots[0]), "cache", "list", "--json")
    table = run_cli("--cache-dir", str(roots[1]), "cache", "list")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gemmtune.best_config(32, 32, 32, threads=1, cache_dir=roots[2])

    assert listed.exit_code == 0 and table.exit_code == 0, (kind, listed.stderr, table.stderr)
    doc = _strict_json(listed.stdout)
    moved = not (roots[0] / "tunings.json").exists()
    expected = [] if moved else sorted(_usable(data), key=Entry.key)
    assert [Entry.from_dict(e).key() for e in doc["entries"]] == \
        sorted((e.key() for e in expected), key=lambda k: (k[0] != fingerprint_id(), k))
    if moved:
        assert "warning:" in listed.stderr and "moved to" in listed.stderr
    for out in (listed.stderr, table.stderr):
        assert "Traceback" not in out and len(out) < 20_000
    assert all(_survived(root, data) for root in roots), kind
