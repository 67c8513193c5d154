"""Issue 14, item 6: a call's cost does not grow with the cache. matmul decides a problem's
configuration once per process and keeps it until the tunings file changes (a stat at most
every 0.1 s), so 10,000 imported entries are read once, not copied on every call."""

from __future__ import annotations

import json
import time

import numpy as np

import gemmtune
from gemmtune import api, cache as cache_mod
from gemmtune.fingerprint import fingerprint_id

from ..factories import make_entry
from ..kernels.conftest import FRINGE_SETS


def test_ten_thousand_entries_are_read_once_not_per_call(compiled_root, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    if (compiled_root / "kernels").exists():  # the session's compiled kernels, if any
        (root / "kernels").symlink_to(compiled_root / "kernels", target_is_directory=True)
    fid = fingerprint_id()
    params = FRINGE_SETS["float32"][0].to_dict()
    entries = [make_entry(fid, 8 + i % 100, 8 + (i // 100) % 100, 8 + i // 10000, "float32", 1,
                          **params).to_dict() for i in range(10_000)]
    (root / "tunings.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))
    reads = []
    real = cache_mod.TuningCache._read

    def counting(self, *a, **kw):
        reads.append(1)
        return real(self, *a, **kw)

    monkeypatch.setattr(cache_mod.TuningCache, "_read", counting)
    A = np.ones((8, 8), np.float32)
    for _ in range(50):
        C = gemmtune.matmul(A, A, threads=1, cache_dir=root)
    assert np.array_equal(C, A @ A)
    assert len(reads) == 1
    # A file changed by another process is read again, once, after the kept plan's next
    # look at its stamp.
    (root / "tunings.json").write_text(json.dumps({"schema_version": 1, "entries": entries[:10]}))
    time.sleep(api.STAMP_INTERVAL)
    for _ in range(5):
        gemmtune.matmul(A, A, threads=1, cache_dir=root)
    assert len(reads) == 2


def test_a_tuning_written_by_this_process_is_used_by_the_next_call(compiled_root, tmp_path):
    """The kept plan looks at the tunings file's stamp only every STAMP_INTERVAL seconds, but
    a write from this process (a tune() or an import) is seen by the very next call."""
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    if (compiled_root / "kernels").exists():
        (root / "kernels").symlink_to(compiled_root / "kernels", target_is_directory=True)
    A = np.ones((8, 8), np.float32)
    gemmtune.matmul(A, A, threads=1, cache_dir=root)
    assert gemmtune.best_config(8, 8, 8, threads=1, cache_dir=root)["source"] == "default"
    params = FRINGE_SETS["float32"][0].to_dict()
    cache_mod.TuningCache(root).put(make_entry(fingerprint_id(), 8, 8, 8, "float32", 1, **params))
    planned = api._planned(A, A, 1, root)
    assert planned is None  # the plan is dropped at once, not after the interval
    C = gemmtune.matmul(A, A, threads=1, cache_dir=root)
    assert np.array_equal(C, A @ A)
    assert gemmtune.best_config(8, 8, 8, threads=1, cache_dir=root)["source"] == "exact"
