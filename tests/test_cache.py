"""The tunings store: round trips, nearest shapes, concurrent writers, damaged files."""

from __future__ import annotations

import errno
import json
import math
import multiprocessing
import os

import pytest

from gemmtune.cache import CacheWarning, Entry, TuningCache, log_distance
from gemmtune.errors import GemmtuneError
from gemmtune.problem import Problem
from tests.factories import OTHER_ID, make_entry

FID = "aaaaaaaaaaaa"


def test_empty_store_without_directory(cache_root):
    store = TuningCache(cache_root)
    assert store.path == cache_root / "tunings.json"
    assert store.entries() == []
    assert store.get(FID, Problem(8, 8, 8)) is None
    assert store.nearest(FID, Problem(8, 8, 8)) is None
    assert store.clear() == 0
    assert not cache_root.exists()  # reading never creates anything


def test_round_trip(cache_root):
    e = make_entry(FID, 512, 384, 256, threads=2, gflops=42.5, MR=4, MC=64)
    assert TuningCache(cache_root).put(e) is False
    got = TuningCache(cache_root).get(FID, Problem(512, 384, 256, "float32", 2))
    assert got == e
    assert got.kernel_params.MR == 4 and got.gflops == 42.5
    doc = json.loads((cache_root / "tunings.json").read_text())
    assert doc["schema_version"] == 1 and len(doc["entries"]) == 1
    assert Entry.from_dict(doc["entries"][0]) == e


def test_key_is_fingerprint_dtype_threads_shape(cache_root):
    store = TuningCache(cache_root)
    variants = [make_entry(FID), make_entry(OTHER_ID), make_entry(FID, threads=2),
                make_entry(FID, dtype="float64"), make_entry(FID, 256, 256, 255)]
    for e in variants:
        store.put(e)
    assert len(store.entries()) == len(variants)
    assert store.put(make_entry(FID, gflops=99.0, MR=3, MC=96)) is True  # replaces the first
    assert len(store.entries()) == len(variants)
    assert store.get(FID, Problem(256, 256, 256)).gflops == 99.0


def test_entries_filters(cache_root):
    store = TuningCache(cache_root)
    store.put_many([make_entry(FID), make_entry(FID, threads=2), make_entry(FID, dtype="f64"),
                    make_entry(OTHER_ID)])
    assert len(store.entries(FID)) == 3
    assert len(store.entries(dtype="f64")) == 1
    assert len(store.entries(FID, dtype="float32", threads=1)) == 1
    assert len(store.entries(threads=2)) == 1


def test_nearest(cache_root):
    store = TuningCache(cache_root)
    store.put_many([make_entry(FID, 256, 256, 256), make_entry(FID, 2048, 2048, 2048),
                    make_entry(FID, 1024, 1024, 1024, threads=2),  # other threads
                    make_entry(FID, 1024, 1024, 1024, dtype="float64"),  # other dtype
                    make_entry(OTHER_ID, 1024, 1024, 1024)])  # other machine
    entry, d = store.nearest(FID, Problem(256, 256, 256))
    assert d == 0.0 and entry.problem.m == 256
    entry, d = store.nearest(FID, Problem(1024, 1024, 1024))
    assert entry.problem.m == 2048 and d == pytest.approx(math.sqrt(3) * math.log(2))
    entry, d = store.nearest(FID, Problem(300, 2000, 2000))
    assert d == pytest.approx(log_distance(entry.problem, Problem(300, 2000, 2000)))
    assert store.nearest(FID, Problem(64, 64, 64, "float32", 4)) is None


def test_remove_clear_and_mark_verified(cache_root):
    store = TuningCache(cache_root)
    store.put_many([make_entry(FID, verified=False), make_entry(FID, 128, 128, 128),
                    make_entry(OTHER_ID)])
    p = Problem(256, 256, 256)
    assert store.mark_verified(FID, p) is True
    assert store.get(FID, p).verified is True
    assert store.mark_verified(FID, Problem(7, 7, 7)) is False
    assert store.remove(FID, p) is True and store.remove(FID, p) is False
    assert store.clear(FID) == 1
    assert [e.fingerprint_id for e in store.entries()] == [OTHER_ID]
    assert store.clear() == 1 and store.entries() == []


def _writer(root: str, fid: str, count: int, start) -> None:
    start.wait()
    store = TuningCache(root)
    for i in range(count):
        store.put(make_entry(fid, 100 + i, 64, 64))


def test_two_processes_writing_at_once_keep_all_entries(cache_root):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(cache_root), fid, 15, start))
             for fid in (FID, OTHER_ID)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = TuningCache(cache_root)
    assert len(store.entries(FID)) == 15 and len(store.entries(OTHER_ID)) == 15
    assert not [p for p in cache_root.iterdir() if p.suffix == ".tmp"]


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 2, "entries": []}',
                                     '["a list"]', "\udcff"])
def test_corrupt_file_is_moved_aside_and_store_carries_on(cache_root, content):
    cache_root.mkdir()
    path = cache_root / "tunings.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    store = TuningCache(cache_root)
    with pytest.warns(CacheWarning, match="moved to .*tunings.json.corrupt-") as rec:
        assert store.entries() == []
    assert str(path) in str(rec[0].message)
    aside = list(cache_root.glob("tunings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content.encode("utf-8", "surrogateescape")
    store.put(make_entry(FID))
    assert len(TuningCache(cache_root).entries()) == 1


def test_invalid_params_are_skipped_and_kept(cache_root):
    store = TuningCache(cache_root)
    store.put(make_entry(FID))
    doc = json.loads(store.path.read_text())
    bad = make_entry(FID, 64, 64, 64).to_dict()
    bad["params"]["MC"] = 97  # not a multiple of MR=6
    unknown = make_entry(FID, 32, 32, 32).to_dict()
    unknown["params"]["new_knob"] = 1
    doc["entries"] += [bad, unknown]
    store.path.write_text(json.dumps(doc))
    with pytest.warns(CacheWarning) as rec:
        entries = TuningCache(cache_root).entries()
    messages = " ".join(str(w.message) for w in rec)
    assert "MC=97 is not a multiple of MR=6" in messages and "new_knob" in messages
    assert [e.problem.m for e in entries] == [256]
    TuningCache(cache_root).put(make_entry(FID, 512, 512, 512))
    # Unusable entries are never returned, but a rewrite does not destroy them either.
    assert len(json.loads(store.path.read_text())["entries"]) == 4


def test_put_refuses_invalid_params(cache_root):
    e = make_entry(FID)
    e.params["MC"] = 97
    with pytest.raises(ValueError, match="MC=97"):
        TuningCache(cache_root).put(e)
    assert not (cache_root / "tunings.json").exists()


def test_put_where_nothing_can_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(GemmtuneError, match=r"Cannot save tunings in .*file"):
        TuningCache(blocker).put(make_entry(FID))


def test_put_on_full_disk_keeps_old_file(cache_root, monkeypatch):
    store = TuningCache(cache_root)
    store.put(make_entry(FID))
    before = store.path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # A full disk cannot be made on demand; fsync is where a write reports it.
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(GemmtuneError, match="disk is full"):
        store.put(make_entry(FID, 128, 128, 128))
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in cache_root.iterdir()) == ["tunings.json", "tunings.json.lock"]
