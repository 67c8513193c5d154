"""kill -9 during a search: of the search itself, then of its candidate worker.

SQLite commits each trial, and the tunings file is only ever replaced whole (os.replace), so
a SIGKILL at any moment loses at most the trial in flight; rerunning the command continues
the same study.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import optuna
import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem
from tests.factories import OTHER_ID, make_entry

from .searching import (command, default_study, end, env_for, load_trials, make_root,
                        search_args, spawn, storage_url, wait_for_trials, worker_of)

S = optuna.trial.TrialState


@pytest.fixture
def root(cache_root, tmp_path_factory):
    root = make_root(cache_root, tmp_path_factory)
    # Something already cached, which the killed search must not damage.
    TuningCache(root).put(make_entry(OTHER_ID, 96, 96, 96))
    return root


def _finished(trials):
    return {t.number: (t.params, t.value) for t in trials if t.state == S.COMPLETE}


def _second_in_flight(trials) -> bool:
    """Trial 0 finished and trial 1 sent to the worker (it names its kernel just before)."""
    return (len(trials) > 1 and trials[0].state == S.COMPLETE and trials[1].state == S.RUNNING
            and "kernel" in trials[1].user_attrs)


def test_kill_9_of_the_search_then_rerun_resumes_with_every_finished_trial(root):
    shape = (48, 48, 48)
    url, name = storage_url(root), default_study(*shape)
    cached_before = (root / "tunings.json").read_bytes()
    # Trial 1 hangs in the worker (a test fault): the kill comes with a candidate in flight,
    # and a worker outliving the search would be plain to see.
    proc = spawn(root, search_args(*shape, "--trials", "50", "--candidate-timeout", "120"),
                 GEMMTUNE_TEST_FAULT="hang@1")
    worker, orphan_ended = None, False
    try:
        wait_for_trials(proc, url, name, _second_in_flight)
        time.sleep(1.0)  # the request reaches the worker right after the trial names its kernel
        worker = worker_of(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        if worker is not None:
            orphan_ended = end(worker)
    assert proc.returncode == -signal.SIGKILL
    # The worker dies with the search (it would go on timing next to the rerun otherwise).
    assert orphan_ended
    trials = load_trials(url, name)
    finished = _finished(trials)
    assert list(finished) == [0] and trials[1].state == S.RUNNING  # lost: the one in flight
    assert (root / "tunings.json").read_bytes() == cached_before
    assert not list(root.glob("*.tmp")) and not list(root.glob(".tunings.json.*"))

    rerun = subprocess.run(command(search_args(*shape, "--trials", "1")), capture_output=True,
                           env=env_for(root), timeout=600)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    doc = json.loads(rerun.stdout)
    assert doc["study"]["name"] == name and doc["run"]["trials"] == 1
    after = load_trials(url, name)
    assert {n: v for n, v in _finished(after).items() if n in finished} == finished
    assert doc["trials"] >= len(finished) + 1
    store = TuningCache(root)
    assert store.get(fingerprint_id(), Problem(*shape, "float32", 1)) is not None
    assert [e.problem.m for e in store.entries(OTHER_ID)] == [96]


def test_kill_9_of_the_worker_fails_that_candidate_and_the_search_goes_on(root):
    shape = (40, 56, 48)
    url, name = storage_url(root), default_study(*shape)
    # Trial 1 hangs in the worker (a test fault), so the kill hits a candidate mid-flight.
    proc = spawn(root, search_args(*shape, "--trials", "2", "--candidate-timeout", "120"),
                 GEMMTUNE_TEST_FAULT="hang@1")
    try:
        wait_for_trials(proc, url, name, _second_in_flight)
        time.sleep(1.0)  # the request reaches the worker right after the trial names its kernel
        os.kill(worker_of(proc.pid), signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    doc = json.loads(out)
    assert doc["run"]["trials"] == 2 and doc["run"]["failed"] == 1
    assert doc["best"]["trial"] == 0 and doc["cached"] is True
    trials = load_trials(url, name)
    assert [t.state for t in trials] == [S.COMPLETE, S.FAIL]
    assert "worker crashed (killed by SIGKILL)" in trials[1].user_attrs["failure"]
    entry = TuningCache(root).get(fingerprint_id(), Problem(*shape, "float32", 1))
    assert entry is not None and entry.params == doc["best"]["params"]
    assert "Traceback" not in err.decode()
