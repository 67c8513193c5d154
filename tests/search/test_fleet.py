"""The fleet table: the best configuration of every fingerprint and problem in a study database."""

from __future__ import annotations

import optuna
import pytest

from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem
from gemmtune.search.fleet import read_fleet
from gemmtune.search.space import SearchSpace
from gemmtune.search.study import make_sampler, open_storage, open_study

A, B = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
P512 = Problem(512, 512, 512, "float32", 1)
P256 = Problem(256, 256, 256, "float32", 1)


def add_study(storage, name: str, fid: str, problem: Problem, results: list[tuple[float, dict]],
              fingerprint: dict | None = None) -> None:
    """A gemmtune study of ``fid`` and ``problem`` holding finished trials ``(gflops, params)``."""
    space = SearchSpace.for_fingerprint(problem.dtype, problem.threads)
    study = open_study(storage, name, problem, fid, make_sampler("random", space, 0), space,
                       fingerprint=fingerprint)
    for gflops, params in results:
        kernel = KernelParams(**params).validate(problem.dtype).to_dict()
        study.add_trial(optuna.trial.create_trial(
            value=gflops, user_attrs={"kernel": kernel, "gflops_iqr": 0.1, "samples": 5,
                                      "worker": "host:1"}))


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"sqlite:///{tmp_path / 'fleet.db'}", tmp_path)[0]


def test_one_entry_per_fingerprint_and_problem_the_best_trial(storage):
    add_study(storage, "a-512", A, P512, [(10.0, {"MR": 6}), (30.0, {"MR": 4}), (20.0, {})],
              fingerprint={"id": A, "recorded": {"brand": "AMD"}})
    add_study(storage, "a-512-again", A, P512, [(25.0, {"KC": 128})])  # another --study name
    add_study(storage, "a-256", A, P256, [(5.0, {})])
    add_study(storage, "b-512", B, P512, [(50.0, {"NR": 8})])
    add_study(storage, "b-empty", B, P256, [])
    optuna.create_study(study_name="not-ours", storage=storage).add_trial(
        optuna.trial.create_trial(value=1.0))

    fleet = read_fleet(storage)
    got = {(e.fingerprint_id, e.problem): e for e in fleet.entries}
    assert set(got) == {(A, P512), (A, P256), (B, P512)}
    best = got[(A, P512)]
    assert best.gflops == 30.0 and best.params["MR"] == 4 and best.verified
    assert best.provenance["study"] == "a-512" and best.provenance["worker"] == "host:1"
    assert best.performance["gflops_iqr"] == 0.1
    assert got[(B, P512)].params["NR"] == 8
    assert fleet.studies == 5 and [s for s, _ in fleet.skipped] == ["b-empty"]
    assert fleet.fingerprints == {A: {"id": A, "recorded": {"brand": "AMD"}}}


def test_an_empty_database_gives_no_entries(storage):
    fleet = read_fleet(storage)
    assert fleet.entries == [] and fleet.studies == 0
