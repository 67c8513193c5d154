"""AmxSearchSpace: every decoded point is a valid kernel, encode/snap/grid/to_dict agree."""

from __future__ import annotations

import optuna
import pytest

from gemmtune.amx import AmxParams, AmxSearchSpace
from gemmtune.amx.space import TILE_SHAPES
from gemmtune.search.space import Rejected

AMX_CPU = {"amx-tile": True, "amx-int8": True}


def space(threads: int = 2) -> AmxSearchSpace:
    return AmxSearchSpace.for_machine("u8s8", threads, features=AMX_CPU)


def test_machine_without_amx_gets_no_space():
    with pytest.raises(ValueError, match="no AMX int8"):
        AmxSearchSpace.for_machine("u8s8", 1, features={"avx2": True})


def test_parallel_is_searched_only_with_threads():
    assert "parallel" not in {d.name for d in space(1).searched()}
    assert space(1).constants() == {"parallel": "m"}
    assert "parallel" in {d.name for d in space(2).searched()}


def test_tile_shapes_are_exactly_those_that_fit():
    assert {"2x2", "6x1", "1x6", "1x1"} <= set(TILE_SHAPES)
    assert not {"2x3", "3x2", "7x1"} & set(TILE_SHAPES)


def test_suggested_points_decode_to_valid_params():
    s = space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(100):
        trial = study.ask()
        p = s.suggest(trial)   # never Rejected: every point of the space is a kernel
        assert p.problems() == []
        assert p.MC % p.MR == 0 and p.KC % 64 == 0 and p.NC % p.NR == 0
        study.tell(trial, 1.0)


def test_encode_decode_round_trip_and_snap():
    s = space()
    p = AmxParams(TM=3, TN=1, MC=96, KC=512, NC=64, unroll=4, prefetch_c=False, parallel="n")
    assert s.decode(s.encode(p)) == p
    assert s.snap(p) == p
    odd = s.snap(AmxParams(TM=2, TN=2, MC=96, KC=320, NC=96))   # MC=96 is 3 x MR, KC=320 5 x 64
    assert odd.problems() == []
    assert (odd.TM, odd.TN) == (2, 2)


def test_every_grid_point_is_a_valid_kernel():
    # The space is built so that no draw is rejected: no compile budget is spent on misses.
    s = space(1)
    assert all(s.decode(point).problems() == [] for point in s.points())


def test_malformed_point_is_rejected():
    with pytest.raises(Rejected, match="tile blocking"):
        space().decode({"tiles": "big", "mc_mult": 1, "kc_mult": 1, "nc_mult": 1, "unroll": 1,
                        "prefetch_c": True})


def test_grid_and_dict_round_trip():
    s = space()
    grid = s.grid()
    assert set(grid) == {d.name for d in s.searched()}
    assert grid["kc_mult"] == [1, 2, 4, 8, 16, 32, 64]
    assert AmxSearchSpace.from_dict(s.to_dict()) == s
    assert s.to_dict()["pair"] == "u8s8"
