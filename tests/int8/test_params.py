from __future__ import annotations

import pytest

from gemmtune.int8 import Int8Params


def test_defaults_in_blis_vocabulary():
    p = Int8Params(MR=8, NR=48, MC=384, KC=512, NC=4080, isa="vnni512")
    assert p.validate("u8s8") is p
    assert p.label() == "vnni512_8x48_mc384_kc512_nc4080_u2_m"
    assert p.k_group == 4


@pytest.mark.parametrize("change, words", [
    (dict(MC=100), "MC=100 is not a multiple of MR=8"),
    (dict(NC=100), "NC=100 is not a multiple of NR=48"),
    (dict(KC=510), "multiple of 4"),
    (dict(NR=40), "16 int32 lanes"),
    (dict(isa="sse2"), "isa must be one of"),
    (dict(parallel="ic"), "parallel must be one of"),
    (dict(unroll=3), "unroll=3"),
    (dict(MR=0, MC=0), "outside 1..32"),
    (dict(MR=8.0), "MR must be an integer"),
])
def test_broken_invariants_are_named(change, words):
    p = Int8Params(MR=8, NR=48, MC=384, KC=512, NC=4080, isa="vnni512").replace(**change)
    assert any(words in s for s in p.problems())
    with pytest.raises(ValueError, match="invalid integer kernel parameters"):
        p.validate()


def test_dict_round_trip_and_key():
    p = Int8Params(MR=6, NR=16, MC=96, KC=256, NC=1536, isa="avx2", unroll=4, parallel="n")
    assert Int8Params.from_dict(p.to_dict()) == p
    assert p.key() == Int8Params.from_dict(p.to_dict()).key()
    assert p.key() != p.replace(unroll=2).key()
    assert len(p.key()) == 12


def test_from_dict_refuses_unknown_and_missing_keys():
    d = Int8Params(isa="generic", NR=8).to_dict()
    with pytest.raises(ValueError, match="unknown integer kernel parameter 'vec_bits'"):
        Int8Params.from_dict({**d, "vec_bits": 512})
    del d["KC"]
    with pytest.raises(ValueError, match="lack KC"):
        Int8Params.from_dict(d)
    with pytest.raises(ValueError, match="JSON object"):
        Int8Params.from_dict([1, 2])


def test_pair_is_checked():
    assert Int8Params(isa="generic", NR=8).problems("u8x8")
