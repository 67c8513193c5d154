"""Ctrl-C during a search: wherever it lands, no trial is left RUNNING.

The signal is sent by the process to itself from inside Optuna's storage calls, at the exact
moment a trial is being created (ask) or closed (tell), or from inside the measurement: the
places where a real Ctrl-C can land. Replayed table, in-memory study: nothing compiles.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import optuna
import pytest

from gemmtune.search.evaluators import TableEvaluator
from gemmtune.search.replay import load_table, table_starts
from gemmtune.search.runner import Search
from gemmtune.search.space import SearchSpace
from gemmtune.search.study import enqueue_starts, make_sampler

TABLE_PATH = Path(__file__).parent.parent / "data" / "space_1024x1024x1024_f32_t1.json"
S = optuna.trial.TrialState


class Storage(optuna.storages.InMemoryStorage):
    """Sends SIGINT to this process during the ``at``-th call of method ``where``."""

    def __init__(self, where: str, at: int):
        super().__init__()
        self.where, self.at, self.calls = where, at, 0

    def _maybe_interrupt(self, name: str) -> None:
        if name == self.where:
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), signal.SIGINT)

    def create_new_trial(self, *args, **kwargs):
        trial_id = super().create_new_trial(*args, **kwargs)
        self._maybe_interrupt("create")  # the trial exists, RUNNING, and ask is not over
        return trial_id

    def set_trial_state_values(self, *args, **kwargs):
        self._maybe_interrupt("state")  # before the state is written
        return super().set_trial_state_values(*args, **kwargs)


class Interrupting(TableEvaluator):
    def __init__(self, table, at: int):
        super().__init__(table, early_stop=False)
        self.at, self.calls = at, 0

    def evaluate(self, params, trial, best_gflops):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().evaluate(params, trial, best_gflops)


@pytest.fixture
def ctrl_c_default():
    """Python's own Ctrl-C handler, even when the test run inherited SIGINT ignored (a run
    started in the background)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


# Calls 1-2 of create_new_trial enqueue the two starting points; state call 1 pops the first
# (WAITING -> RUNNING), call 2 writes its outcome, call 3 pops the second.
@pytest.mark.parametrize("where,at", [
    ("create", 4),     # while a sampled trial is being created (ask)
    ("state", 2),      # while a finished trial's outcome is written (tell)
    ("state", 3),      # while an enqueued starting point is popped (ask)
    ("measure", 3),    # while a candidate is measured
])
def test_ctrl_c_anywhere_leaves_no_trial_running(where, at, ctrl_c_default):
    table = load_table(TABLE_PATH)
    space = SearchSpace.from_dict(table["space"])
    storage = Storage(where, at)
    study = optuna.create_study(direction="maximize", storage=storage,
                                sampler=make_sampler("random", space, 0))
    enqueue_starts(study, space, table_starts(table, space)[:2])
    evaluator = Interrupting(table, at if where == "measure" else 0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    run = Search(study, space, evaluator, worker="test:1")
    stats = run.run(10)

    assert stats.interrupted and stats.evaluated < 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    trials = study.get_trials(deepcopy=False)
    assert not [t.number for t in trials if t.state == S.RUNNING]
    for t in trials:
        if t.state == S.FAIL:
            assert "Ctrl-C" in t.user_attrs.get("failure", ""), t.user_attrs
    assert any(t.state == S.COMPLETE for t in trials)
