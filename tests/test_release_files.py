"""Files written by the previous release (0.1.0, before kernel families) still load.

``tests/data/release-0.1.0-*.json`` were written by gemmtune 0.1.0 itself: a tunings file
with one entry of this kind of machine and one of another, and ``gemmtune export --all``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gemmtune.cache import TuningCache
from gemmtune.transfer import import_document, validate_document

DATA = Path(__file__).parent / "data"


def test_a_tunings_file_of_the_previous_release_loads(tmp_path):
    shutil.copy(DATA / "release-0.1.0-tunings.json", tmp_path / "tunings.json")
    entries = TuningCache(tmp_path).entries()
    assert len(entries) == 2
    for e in entries:
        assert e.family == "numba-gemm" and e.problem.batch == 1 and e.problem.op == "gemm"
        assert e.kernel_params.to_dict() == e.params
    # Rewriting it keeps every entry, now with its family spelled out.
    store = TuningCache(tmp_path)
    store.put(entries[0])
    doc = json.loads((tmp_path / "tunings.json").read_text())
    assert len(doc["entries"]) == 2 and all(e["family"] == "numba-gemm" for e in doc["entries"])


def test_an_export_of_the_previous_release_imports(tmp_path):
    doc = json.loads((DATA / "release-0.1.0-export.json").read_text())
    exporter, entries = validate_document(doc, "release-0.1.0-export.json")
    assert len(entries) == 1 and entries[0].family == "numba-gemm"
    # Imported as another machine's (the generator changed since): unverified, with --force.
    report = import_document(TuningCache(tmp_path), doc, "old.json", "000000000000", force=True)
    assert report.forced == 1
    (entry,) = TuningCache(tmp_path).entries()
    assert entry.verified is False and entry.params == entries[0].params
