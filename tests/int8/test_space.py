"""The integer search space: only this machine's ISAs, valid draws by construction, a register budget."""

from __future__ import annotations

import itertools

import optuna
import pytest

from gemmtune.int8 import Int8Params, Int8SearchSpace, default_params
from gemmtune.search.space import Rejected

from .test_isa import ICELAKE_SERVER, ZEN3


@pytest.fixture
def space():
    return Int8SearchSpace.for_machine("s8u8", threads=2, features=ICELAKE_SERVER)


def test_dimensions_and_constants(space):
    assert [d.name for d in space.searched()] == ["isa", "mr", "nr_vecs", "mc_mult", "kc_mult", "nc_mult",
                                                 "unroll", "parallel"]
    one = Int8SearchSpace.for_machine("s8u8", threads=1, features=ZEN3)
    assert one.constants() == {"parallel": "m"}
    assert one.dims["isa"].values() == ["avx2", "generic"]


def test_decode_builds_multiples_and_rejects_over_budget(space):
    p = space.decode({"isa": "vnni512", "mr": 8, "nr_vecs": 3, "mc_mult": 12, "kc_mult": 8, "nc_mult": 32,
                      "unroll": 2, "parallel": "n"})
    assert p == Int8Params(MR=8, NR=48, MC=96, KC=512, NC=1536, isa="vnni512", unroll=2, parallel="n")
    with pytest.raises(Rejected, match="needs 37 vector registers"):
        space.decode({"isa": "vnni512", "mr": 8, "nr_vecs": 4, "mc_mult": 1, "kc_mult": 1, "nc_mult": 1})
    zen = Int8SearchSpace.for_machine("u8s8", 1, ZEN3)
    with pytest.raises(Rejected, match="16 exist"):
        zen.decode({"isa": "avx2", "mr": 8, "nr_vecs": 2, "mc_mult": 1, "kc_mult": 1, "nc_mult": 1})
    with pytest.raises(Rejected, match="not available"):
        zen.decode({"isa": "vnni512", "mr": 1, "nr_vecs": 1, "mc_mult": 1, "kc_mult": 1, "nc_mult": 1})


def test_encode_snaps_into_the_space_and_round_trips(space):
    for isa in ("vnni512", "vnni256", "avx2", "generic"):
        p = default_params("s8u8", ICELAKE_SERVER).replace(isa=isa, NR=48 if isa == "vnni512" else 24, NC=1536)
        snapped = space.snap(p)
        assert snapped.isa == isa and snapped.problems("s8u8") == []
        assert space.decode(space.encode(snapped)) == snapped
    # Off-grid sizes land on the nearest valid point, shrinking MR to fit the registers.
    odd = Int8Params(MR=30, NR=64, MC=300, KC=500, NC=1000, isa="vnni512")
    snapped = space.snap(odd)
    assert snapped.MR * (snapped.NR // 16) + snapped.NR // 16 + 1 <= 32


def test_suggest_through_optuna(space):
    trial = optuna.trial.FixedTrial({"isa": "avx2", "mr": 6, "nr_vecs": 2, "mc_mult": 16, "kc_mult": 4,
                                     "nc_mult": 64, "unroll": 4, "parallel": "m"})
    assert space.suggest(trial).label() == "avx2_6x16_mc96_kc256_nc1024_u4_m"


def test_serialisation_and_grid(space):
    again = Int8SearchSpace.from_dict(space.to_dict())
    assert again == space and again.dtype == "s8u8"
    grid = space.grid()
    assert grid["isa"] == ["vnni512", "vnni256", "avx2", "generic"]
    assert grid["kc_mult"] == [1, 2, 4, 8, 16, 32]
    assert all(p.problems("s8u8") == [] for _, p in itertools.islice(space.valid_points(), 200))
