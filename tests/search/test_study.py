"""Studies shared by several workers: fingerprint guard, sampler, seeds enqueued twice, URLs.

These run on SQLite (and the replay table), so they need no server; the same rules on a real
PostgreSQL server are tested in tests/cli/test_distributed.py.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from gemmtune.errors import GemmtuneError
from gemmtune.problem import Problem
from gemmtune.search.evaluators import TableEvaluator
from gemmtune.search.replay import load_table, table_starts as table_seeds
from gemmtune.search.runner import Search
from gemmtune.search.space import SearchSpace
from gemmtune.search.study import (enqueue_starts as enqueue_seeds, is_shared, make_sampler, numpy_reference,
                                   open_storage, open_study, redact, with_driver)
from tests.factories import OTHER_ID

TABLE_PATH = Path(__file__).parent.parent / "data" / "space_1024x1024x1024_f32_t1.json"
LOCAL_ID = "aaaaaaaaaaaa"


@pytest.fixture(scope="module")
def table():
    return load_table(TABLE_PATH)


@pytest.fixture
def space(table):
    return SearchSpace.from_dict(table["space"])


def _open(tmp_path, space, fid, name="s", problem=Problem(1024, 1024, 1024, "float32", 1), **kw):
    storage, _ = open_storage(f"sqlite:///{tmp_path / 'studies.db'}", tmp_path)
    return open_study(storage, name, problem, fid, make_sampler("random", space, 0), space, **kw)


def test_a_study_records_its_machine_and_problem(tmp_path, space):
    fp = {"id": LOCAL_ID, "identity": {"cpu_name": "znver3"}, "recorded": {"brand": "AMD"}}
    study = _open(tmp_path, space, LOCAL_ID, fingerprint=fp)
    attrs = study.user_attrs  # what optuna-dashboard shows
    assert attrs["fingerprint_id"] == LOCAL_ID and attrs["fingerprint"] == fp
    assert attrs["problem"] == {"m": 1024, "n": 1024, "k": 1024, "dtype": "float32", "threads": 1}
    assert _open(tmp_path, space, LOCAL_ID).user_attrs == attrs  # the same machine rejoins


def test_numpy_reference_is_measured_once_and_kept_in_the_study(tmp_path, space):
    calls = []

    def measure(figure):
        calls.append(figure)
        return figure

    assert numpy_reference(_open(tmp_path, space, LOCAL_ID), lambda: measure(None)) is None
    assert numpy_reference(_open(tmp_path, space, LOCAL_ID), lambda: measure(81.5)) == 81.5
    # A resumed search (or another worker) reads the study's figure and measures nothing.
    assert numpy_reference(_open(tmp_path, space, LOCAL_ID), lambda: measure(40.0)) == 81.5
    assert calls == [None, 81.5]


def test_a_worker_of_another_machine_is_refused(tmp_path, space):
    _open(tmp_path, space, OTHER_ID)
    with pytest.raises(GemmtuneError) as info:
        _open(tmp_path, space, LOCAL_ID)
    msg = info.value.message
    assert "another machine" in msg and OTHER_ID in msg and LOCAL_ID in msg
    assert msg.count(".") >= 1 and "\n" not in msg


def test_another_problem_is_refused(tmp_path, space):
    _open(tmp_path, space, LOCAL_ID)
    with pytest.raises(GemmtuneError, match="tunes 1024x1024x1024"):
        _open(tmp_path, space, LOCAL_ID, problem=Problem(512, 512, 512, "float32", 1))


def test_shared_storage_gets_the_constant_liar(space):
    assert is_shared("postgresql://u@h/db") and not is_shared(None)
    assert make_sampler("tpe", space, 0, shared=True)._constant_liar is True
    assert make_sampler("tpe", space, 0)._constant_liar is False


def test_seeds_enqueued_twice_by_racing_workers_are_measured_once(table, space):
    """Two workers that open a new study together both enqueue the seeds; the lower trial
    number of each pair runs, the other is rejected without being measured."""
    study = optuna.create_study(direction="maximize", sampler=make_sampler("random", space, 0),
                                storage=optuna.storages.InMemoryStorage())
    seeds = table_seeds(table, space)
    assert enqueue_seeds(study, space, seeds) == len(seeds)
    for seed in seeds:  # the second worker, which read the study before the first wrote
        study.enqueue_trial(space.encode(seed.params), user_attrs={"start": seed.source})
    evaluated = []

    class Counting(TableEvaluator):
        def evaluate(self, params, trial, best_gflops):
            evaluated.append(params.key())
            return super().evaluate(params, trial, best_gflops)

    run = Search(study, space, Counting(table, early_stop=False), worker="test:1")
    run.run(len(seeds) + 2)
    assert len(evaluated) == len(seeds) + 2
    assert len(set(evaluated[:len(seeds)])) == len(seeds)  # every seed once, first
    dupes = [t for t in study.trials if "same starting point" in t.user_attrs.get("rejected", "")]
    assert len(dupes) == len(seeds) and run.stats.rejected >= len(seeds)
    assert all(t.user_attrs["worker"] == "test:1" for t in study.trials)


@pytest.mark.parametrize("url,shown", [
    ("postgresql://me:secret@db.example/x", "postgresql://me:***@db.example/x"),
    ("postgresql://me@db.example/x", "postgresql://me@db.example/x"),
    ("sqlite:////tmp/studies.db", "sqlite:////tmp/studies.db"),
])
def test_redact_hides_only_a_password(url, shown):
    assert redact(url) == shown


def test_a_plain_postgresql_url_uses_the_installed_driver():
    pytest.importorskip("psycopg")
    assert with_driver("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert with_driver("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert with_driver("sqlite:///x.db") == "sqlite:///x.db"


def test_a_missing_driver_names_the_extra(tmp_path):
    with pytest.raises(GemmtuneError) as info:
        open_storage("postgresql+pg8000://u@127.0.0.1:1/x", tmp_path)
    assert "driver pg8000 is not installed" in info.value.message


def test_a_missing_postgresql_driver_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if gemmtune[postgres] were absent
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(GemmtuneError) as info:
        open_storage("postgresql://u@127.0.0.1:1/x", tmp_path)
    assert "pip install 'gemmtune[postgres]'" in info.value.message
