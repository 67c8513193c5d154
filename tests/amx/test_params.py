"""AmxParams: invariants, one sentence per broken rule, round trips, names."""

from __future__ import annotations

import pytest

from gemmtune.amx import PAIRS, AmxParams, default_amx_params


def test_default_is_valid_for_every_pair():
    for pair in PAIRS:
        p = default_amx_params(pair)
        assert p.validate() is p
        assert (p.MR, p.NR) == (16 * p.TM, 16 * p.TN)


def test_unknown_pair_is_refused():
    with pytest.raises(ValueError, match="unknown int8 pair"):
        default_amx_params("u8u16")


@pytest.mark.parametrize("changes, words", [
    ({"TM": 3, "TN": 2}, "tile registers"),
    ({"TM": 7, "TN": 1}, "tile registers"),
    ({"TM": 0}, "tile registers"),
    ({"MC": 100}, "multiple of MR=32"),
    ({"KC": 100}, "multiple of 64"),
    ({"NC": 40}, "multiple of NR=32"),
    ({"MC": 0}, "outside"),
    ({"unroll": 3}, "unroll=3"),
    ({"parallel": "ic"}, "parallel must be"),
    ({"KC": 64.0}, "must be an integer"),
    ({"TM": True}, "must be an integer"),
    ({"prefetch_c": 1}, "prefetch_c must be true or false"),
])
def test_each_broken_rule_is_named(changes, words):
    p = AmxParams().replace(**changes)
    assert p.problems() and words in p.problems()[0]
    with pytest.raises(ValueError, match="invalid AMX kernel parameters"):
        p.validate()


def test_largest_tile_blockings_fit_the_eight_tiles():
    for tm, tn in ((2, 2), (6, 1), (1, 6)):
        AmxParams(TM=tm, TN=tn, MC=16 * tm, NC=16 * tn).validate()


def test_dict_round_trip_and_refusals():
    p = AmxParams(TM=3, TN=1, MC=96, KC=512, NC=64, unroll=4, parallel="n")
    assert AmxParams.from_dict(p.to_dict()) == p
    assert AmxParams.from_dict({"TM": 2, "TN": 2, "MC": 64, "KC": 64, "NC": 64}).unroll == 2
    with pytest.raises(ValueError, match="unknown AMX kernel parameter 'MR'"):
        AmxParams.from_dict({**p.to_dict(), "MR": 48})
    with pytest.raises(ValueError, match="lack KC"):
        AmxParams.from_dict({"TM": 2, "TN": 2, "MC": 64, "NC": 64})
    with pytest.raises(ValueError, match="JSON object"):
        AmxParams.from_dict([1, 2])


def test_key_and_label():
    p = AmxParams()
    assert p.label() == "amx_2x2_mc128_kc2048_nc2048_u2_n"
    assert p.key() == AmxParams.from_dict(p.to_dict()).key()
    assert p.key() != p.replace(unroll=4).key()
    assert p.replace(prefetch_c=False).label().endswith("_n_np")
