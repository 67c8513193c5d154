"""Limits: sizes beyond free memory, thread counts beyond the cores, the --timeout budget.

Already proven elsewhere (docs/reliability.md lists them): `search` refuses a shape beyond
free memory and --threads above the cores or below 1 (tests/cli/test_search.py::
test_bad_input_is_one_sentence_and_touches_nothing), `bench` refuses --threads above the
cores or below 1 (tests/cli/test_bench.py::test_bad_input_is_one_sentence), kernels refuse
threads numba cannot run (tests/kernels/test_bad_input.py::test_too_many_threads) and matmul
threads < 1 (tests/test_api.py::test_bad_input_errors).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import numpy as np
import pytest

import gemmtune

from .searching import default_study, load_trials, make_root, search_args, storage_url

HUGE = ["-m", "300000", "-n", "300000", "-k", "300000"]


def test_bench_refuses_sizes_beyond_free_memory(run_cli, cache_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("bench", *HUGE, "--output", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "needs about" in result.stderr and "GiB of memory" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists() and not cache_root.exists()


def test_matmul_lets_numpy_refuse_an_output_beyond_memory(compiled_root):
    # Operands that take no memory (broadcast views) whose product would take 40 PB: matmul
    # raises numpy's own MemoryError when it allocates C, as `A @ B` does, before any work.
    A = np.broadcast_to(np.ones((1, 1), "f4"), (10**8, 1))
    B = np.broadcast_to(np.ones((1, 1), "f4"), (1, 10**8))
    with pytest.raises(MemoryError, match="Unable to allocate"):
        A @ B
    with pytest.raises(MemoryError, match="Unable to allocate"):
        gemmtune.matmul(A, B, threads=1, cache_dir=compiled_root)


def test_timeout_stops_starting_candidates(run_cli, cache_root, tmp_path_factory):
    root = make_root(cache_root, tmp_path_factory)
    timeout = 3.0
    started = time.monotonic()
    result = run_cli("search", *search_args(48, 48, 48, "--trials", "1000",
                                            "--timeout", str(timeout)))
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert 1 <= doc["run"]["trials"] < 1000 and doc["cached"] is True
    trials = load_trials(storage_url(root), default_study(48, 48, 48))
    starts = sorted(t.datetime_start for t in trials if t.datetime_start is not None)
    # No candidate starts after the budget; the one in flight and the finish still run.
    assert starts[-1] - starts[0] <= timedelta(seconds=timeout + 0.5)
    assert elapsed < 300  # only a hang detector: one candidate and the finish, not 1000
