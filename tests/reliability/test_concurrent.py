"""Several searches writing one cache dir at once: every winner is kept.

They share the study database (SQLite, which serialises writers) and the tunings file
(read-modify-write under a file lock, replaced atomically). The store-level race is in
tests/test_cache.py::test_two_processes_writing_at_once_keep_all_entries; this runs the
whole command, three at a time, on a cache dir with no study database yet (so they also
race to create it).
"""

from __future__ import annotations

import json

import optuna

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem

from .searching import default_study, load_trials, make_root, search_args, spawn, storage_url

S = optuna.trial.TrialState
SHAPES = [(32, 40, 48), (40, 32, 56), (56, 48, 32)]


def test_concurrent_searches_into_one_cache_dir_keep_every_winner(tmp_path, tmp_path_factory):
    root = make_root(tmp_path / "cache", tmp_path_factory)
    procs = [spawn(root, search_args(*shape, "--trials", "2")) for shape in SHAPES]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            results.append((proc.returncode, out, err.decode()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "Traceback" not in err
    store = TuningCache(root)
    for shape, (_, out, _) in zip(SHAPES, results):
        doc = json.loads(out)
        assert doc["cached"] is True
        entry = store.get(fingerprint_id(), Problem(*shape, "float32", 1))
        assert entry is not None and entry.params == doc["best"]["params"]
        trials = load_trials(storage_url(root), default_study(*shape))
        # Points rejected before compiling (over the register budget) cost nothing and are
        # not candidates; how many the sampler proposes depends on the machine's space.
        states = [t.state for t in trials if "rejected" not in t.user_attrs
                  and "duplicate_of" not in t.user_attrs]
        # Two candidates measured in each; one may be stopped early (slow next to the best).
        assert len(states) == 2 and S.COMPLETE in states and set(states) <= {S.COMPLETE, S.PRUNED}
    assert len(store.entries()) == len(SHAPES)
    assert not list(root.glob("*.tmp")) and not list(root.glob(".tunings.json.*"))


def _open_storage(root: str, start, results) -> None:
    from gemmtune.search.study import open_storage

    start.wait()
    try:
        open_storage(None, root)
        results.put("ok")
    except Exception as e:
        results.put(f"{type(e).__name__}: {e}")


def test_processes_creating_the_study_database_at_once_all_open_it(tmp_path):
    # The race the test above hits only now and then, made likely: three processes open a new
    # SQLite study database at the same instant, three times over.
    import multiprocessing

    import gemmtune.search.study  # noqa: F401 (imported once here; forked children start fast)
    import optuna.storages  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):
        start, results = ctx.Event(), ctx.Queue()
        root = str(tmp_path / str(attempt))
        procs = [ctx.Process(target=_open_storage, args=(root, start, results)) for _ in range(3)]
        for p in procs:
            p.start()
        start.set()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(60)
        assert outcomes == ["ok"] * 3
