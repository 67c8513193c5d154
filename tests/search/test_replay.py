"""Simulation mode: searches replayed on the recorded table are deterministic and efficient.

The table (tests/data/space_*.json, written by benchmarks/record_space.py) holds every
configuration of a small space measured on this machine kind; nothing here compiles or
times anything.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from gemmtune.search.evaluators import TableEvaluator
from gemmtune.search.replay import load_table, replay, table_starts as table_seeds, trials_to_reach
from gemmtune.search.space import SearchSpace
from gemmtune.search.study import SAMPLERS

TABLE_PATH = Path(__file__).parent.parent / "data" / "space_1024x1024x1024_f32_t1.json"
# The same shape over the register tile, KC, and A and B packed or read in place.
PACKING_PATH = TABLE_PATH.with_name("space_1024x1024x1024_f32_t1_packing.json")
TABLES = [TABLE_PATH, PACKING_PATH]


@pytest.fixture(scope="module")
def table():
    return load_table(TABLE_PATH)


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_table_covers_its_space(path):
    table = load_table(path)
    space = SearchSpace.from_dict(table["space"])
    keys = {TableEvaluator(table).rows.keys().__len__()}
    assert keys == {sum(1 for _ in space.valid_points())}
    assert all(r["status"] in ("ok", "failed") for r in table["rows"])
    assert len(table_seeds(table, space)) >= 2


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_replays_deterministically_and_seeds_go_first(table, sampler):
    space = SearchSpace.from_dict(table["space"])
    evaluator = TableEvaluator(table, early_stop=False)
    first = replay(table, sampler, 7, 12, early_stop=False)
    assert replay(table, sampler, 7, 12, early_stop=False) == first
    assert len(first) == 12
    values = {r["gflops"] for r in table["rows"] if r["status"] == "ok"}
    assert all(v is None or v in values for v in first)
    seeds = table_seeds(table, space)
    assert first[:len(seeds)] == [evaluator.evaluate(s.params, 0, None).gflops for s in seeds]


def test_grid_visits_every_valid_point_once_then_stops(table):
    trajectory = replay(table, "grid", 0, 1000, use_starts=False, early_stop=False)
    n_valid = len(TableEvaluator(table).rows)
    assert len(trajectory) == n_valid
    assert max(v for v in trajectory if v is not None) == TableEvaluator(table).best_gflops()


def test_early_stop_prunes_hopeless_candidates(table):
    trajectory = replay(table, "random", 1, 30)
    assert None in trajectory  # some candidates were stopped against the best so far


def test_a_kernel_already_measured_is_not_measured_again(table):
    """Random search over a few hundred points repeats itself; repeats get the earlier outcome
    without reaching the evaluator and do not count towards the budget."""
    import optuna

    from gemmtune.search.runner import Search
    from gemmtune.search.study import make_sampler

    space = SearchSpace.from_dict(table["space"])
    measured: list[str] = []

    class Counting(TableEvaluator):
        def evaluate(self, params, trial, best_gflops):
            measured.append(params.key())
            return super().evaluate(params, trial, best_gflops)

    study = optuna.create_study(direction="maximize", sampler=make_sampler("random", space, 3),
                                storage=optuna.storages.InMemoryStorage())
    search = Search(study, space, Counting(table))
    stats = search.run(80)
    assert stats.evaluated == len(measured) == 80
    assert len(set(measured)) == 80
    repeats = [t for t in study.trials if "duplicate_of" in t.user_attrs]
    assert stats.duplicates == len(repeats) > 0
    for t in repeats:
        earlier = study.trials[t.user_attrs["duplicate_of"]]
        assert earlier.user_attrs["kernel"] == t.user_attrs["kernel"]
        if earlier.state == optuna.trial.TrialState.COMPLETE:
            assert t.value == earlier.value
        else:
            assert t.state == optuna.trial.TrialState.PRUNED
    counts = search.counts()
    assert counts["evaluated"] == 80 and counts["duplicates"] == len(repeats)


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_seeded_tpe_gets_within_5_percent_quickly(path):
    table = load_table(path)
    target = 0.95 * TableEvaluator(table).best_gflops()
    hits = [trials_to_reach(replay(table, "tpe", s, 60, stop_at=target), target) or 60
            for s in range(5)]
    assert statistics.median(hits) <= 25
    # The second half: at least 2x fewer candidates than random search (unseeded).
    random_hits = [trials_to_reach(replay(table, "random", s, 60, use_starts=False, stop_at=target),
                                   target) or 60 for s in range(10)]
    assert 2 * statistics.median(hits) <= statistics.median(random_hits)


def test_a_time_budget_stops_starting_candidates(table):
    import optuna

    from gemmtune.search.runner import Search
    from gemmtune.search.study import make_sampler

    space = SearchSpace.from_dict(table["space"])
    study = optuna.create_study(direction="maximize", sampler=make_sampler("random", space, 0))
    assert Search(study, space, TableEvaluator(table)).run(50, timeout=0).evaluated == 0
    assert Search(study, space, TableEvaluator(table)).run(3, timeout=60).evaluated == 3


def test_a_lucky_candidate_must_beat_the_best_seed_when_remeasured(table):
    """A non-seed candidate timed during a lucky moment leads the search; re-measured side by
    side with the best seed it is slower, and the seed wins the finish."""
    import optuna

    from gemmtune.search.runner import Search
    from gemmtune.search.study import enqueue_starts as enqueue_seeds, make_sampler

    space = SearchSpace.from_dict(table["space"])
    seeds = table_seeds(table, space)
    seed_keys = {s.params.key() for s in seeds}

    class Lucky(TableEvaluator):
        def evaluate(self, params, trial, best_gflops):
            out = super().evaluate(params, trial, None)
            if out.status == "ok" and params.key() not in seed_keys:
                out.gflops *= 3.0  # the lucky moment: every non-seed looks 3x faster
            return out

    study = optuna.create_study(direction="maximize", sampler=make_sampler("random", space, 0),
                                storage=optuna.storages.InMemoryStorage())
    enqueue_seeds(study, space, seeds)
    run = Search(study, space, Lucky(table, early_stop=False))
    run.run(len(seeds) + 6)
    winner = run.finish(top=2)
    best_seed = max(TableEvaluator(table).rows[k]["gflops"] for k in seed_keys
                    if TableEvaluator(table).rows.get(k, {}).get("status") == "ok")
    assert len(winner["finalists"]) == 3
    assert winner["gflops"] >= best_seed
