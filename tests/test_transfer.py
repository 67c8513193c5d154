"""Export documents: built, validated against the schema, imported by the fingerprint rules."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from gemmtune.cache import TuningCache
from gemmtune.errors import GemmtuneError
from gemmtune.fingerprint import fingerprint
from gemmtune.transfer import (build_document, import_document, plan_import, schema,
                               validate_document)
from tests.factories import OTHER_ID, make_entry


@pytest.fixture
def fp():
    return fingerprint()


def test_document_validates_and_round_trips(fp):
    entries = [make_entry(fp["id"]), make_entry(fp["id"], 64, 32, 16, dtype="float64",
                                                threads=2, verified=False)]
    doc = build_document(entries, fp)
    jsonschema.validate(doc, schema())
    assert doc["schema_version"] == 1 and doc["fingerprint"]["id"] == fp["id"]
    doc_id, parsed = validate_document(doc, "x.json")
    assert doc_id == fp["id"] and parsed == entries


def test_entries_without_fingerprint_id_take_the_documents(fp):
    doc = build_document([make_entry(OTHER_ID)], dict(fp, id=OTHER_ID))
    del doc["entries"][0]["fingerprint_id"]
    _, (entry,) = validate_document(doc, "x.json")
    assert entry.fingerprint_id == OTHER_ID


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("fingerprint"), "'fingerprint' is a required property"),
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d["entries"][0]["params"].update(MR="6"), r"entries\[0\]\.params\.MR"),
    (lambda d: d["entries"][0]["params"].update(bogus=1), "bogus"),
    (lambda d: d["entries"][0]["problem"].update(m=0), r"entries\[0\]\.problem\.m"),
    (lambda d: d["entries"][0]["params"].update(MC=97), "MC=97 is not a multiple of MR=6"),
    (lambda d: d["entries"][0]["params"].update(NR=12), "NR=12 is not a multiple of the 8"),
])
def test_bad_documents_name_file_and_problem(fp, damage, message):
    doc = build_document([make_entry(fp["id"])], fp)
    damage(doc)
    with pytest.raises(GemmtuneError, match=message) as info:
        validate_document(doc, "tuned.json")
    assert info.value.message.startswith("Cannot import tuned.json: ")


def test_plan_import_by_fingerprint(fp):
    mine, theirs = make_entry(fp["id"]), make_entry(OTHER_ID, 128, 128, 128)
    report = plan_import([mine, theirs], fp["id"])
    assert report.imported == [mine] and report.foreign == [theirs]
    assert report.foreign_ids == [OTHER_ID]
    forced = plan_import([mine, theirs], fp["id"], force=True, origin={"file": "t.json"})
    assert forced.foreign == [] and forced.forced == 1
    moved = forced.imported[1]
    assert moved.fingerprint_id == fp["id"] and moved.verified is False
    assert moved.provenance["imported_from"]["fingerprint_id"] == OTHER_ID
    assert moved.provenance["imported_from"]["file"] == "t.json"
    assert moved.params == theirs.params


def test_invalid_document_leaves_cache_untouched(cache_root, fp):
    store = TuningCache(cache_root)
    store.put(make_entry(fp["id"], 8, 8, 8))
    before = store.path.read_bytes()
    doc = build_document([make_entry(fp["id"]), make_entry(fp["id"], 16, 16, 16)], fp)
    bad = copy.deepcopy(doc)
    bad["entries"][1]["params"]["KC"] = 0
    with pytest.raises(GemmtuneError):
        import_document(store, bad, "bad.json", fp["id"])
    assert store.path.read_bytes() == before
    report = import_document(store, doc, "good.json", fp["id"])
    assert len(report.imported) == 2 and report.replaced == 0
    assert len(store.entries()) == 3


def test_forced_entries_of_a_fleet_never_displace_this_machines(fp):
    """A fleet document holds several machines' entries per problem: this machine's own
    entry wins, then a verified tuning already cached here, then the fastest other one."""
    third = "cccccccccccc"
    entries = [make_entry(fp["id"], 64, 64, 64, gflops=5.0),
               make_entry(OTHER_ID, 64, 64, 64, gflops=50.0),      # this machine has its own
               make_entry(OTHER_ID, 96, 96, 96, gflops=10.0),
               make_entry(third, 96, 96, 96, gflops=30.0, MR=4),   # the faster stand-in
               make_entry(third, 128, 128, 128, gflops=9.0)]       # cached here already
    cached = {make_entry(fp["id"], 128, 128, 128).problem}
    report = plan_import(entries, fp["id"], force=True, protected=cached)
    got = {e.problem.m: e for e in report.imported}
    assert set(got) == {64, 96} and report.forced == 1 and report.superseded == 3
    assert got[64].verified and got[64].gflops == 5.0
    assert not got[96].verified and got[96].params["MR"] == 4
    assert got[96].provenance["imported_from"]["fingerprint_id"] == third
    assert all(e.fingerprint_id == fp["id"] for e in report.imported)
