"""ConvSpec: geometry, text and JSON forms, and the GEMMs it lowers to."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from gemmtune.conv import ConvSpec, GemmShape

from .conftest import conv_specs


def test_parse_the_issue_layers():
    spec = ConvSpec.parse("1,128,28,28,128,3,3,1,1")
    assert (spec.n, spec.c, spec.h, spec.w, spec.k, spec.r, spec.s) == (1, 128, 28, 28, 128, 3, 3)
    assert spec.stride == (1, 1) and spec.padding == (1, 1) and spec.output_hw() == (28, 28)
    assert spec.flops() == 2 * 128 * 28 * 28 * 128 * 9
    plain = ConvSpec.parse("1,256,56,56,64,1,1")
    assert plain.stride == (1, 1) and plain.padding == (0, 0) and plain.is_pointwise
    full = ConvSpec.parse("2,8,9,9,4,3,3,2,1,2,4", layout="nhwc")
    assert (full.dilation, full.groups, full.layout) == ((2, 2), 4, "NHWC")


@pytest.mark.parametrize("text", ["", "1,2,3", "1,64,56,56,64,3,3,1,1,1,1,1", "1,64,56,56,64,3,x",
                                  "1,64,56,56,64,3,3,0,1", "1,64,56,56,64,3,3,1,-1",
                                  "1,6,5,5,4,3,3,1,1,1,4", "1,64,2,2,64,5,5"])
def test_parse_refuses_bad_text_with_one_sentence(text):
    with pytest.raises(ValueError) as e:
        ConvSpec.parse(text)
    message = str(e.value)
    assert message.endswith(".") and message.count(". ") == 0


def test_output_size_follows_torch():
    # torch: floor((H + 2p - d(R-1) - 1) / s) + 1
    spec = ConvSpec(1, 1, 10, 7, 1, 3, 2, stride=(3, 2), padding=(2, 0), dilation=(2, 3))
    assert spec.output_hw() == ((10 + 4 - 4 - 1) // 3 + 1, (7 - 3 - 1) // 2 + 1)


@pytest.mark.parametrize("kwargs, words", [
    ({"groups": 3}, "groups=3"),
    ({"r": 9}, "kernel spans 9"),
    ({"stride": 0}, "stride must be positive"),
    ({"padding": -1}, "padding must be non-negative"),
    ({"dilation": (1, 2, 3)}, "pair"),
    ({"layout": "CHWN"}, "layout"),
])
def test_bad_geometry(kwargs, words):
    base = {"n": 1, "c": 4, "h": 5, "w": 5, "k": 4, "r": 3, "s": 3}
    with pytest.raises((ValueError, TypeError), match=words):
        ConvSpec(**{**base, **kwargs})


@settings(max_examples=60, deadline=None)
@given(conv_specs())
def test_dict_round_trip_and_label(spec):
    assert ConvSpec.from_dict(spec.to_dict()) == spec
    assert spec.label().startswith(f"N{spec.n} C{spec.c} {spec.h}x{spec.w} K{spec.k}")


def test_from_dict_refuses_unknown_and_missing_keys():
    with pytest.raises(ValueError, match="lacks 'k'"):
        ConvSpec.from_dict({"n": 1, "c": 1, "h": 1, "w": 1, "r": 1, "s": 1})
    with pytest.raises(ValueError, match="unknown convolution key 'pad'"):
        ConvSpec.from_dict({"n": 1, "c": 1, "h": 1, "w": 1, "k": 1, "r": 1, "s": 1, "pad": 1})


@settings(max_examples=60, deadline=None)
@given(conv_specs())
def test_every_direction_does_the_forward_work(spec):
    # The three products of a convolution have the same multiply-adds.
    for direction in ("forward", "backward_data", "backward_weight"):
        gemms = spec.gemms(direction)
        assert all(isinstance(g, GemmShape) and g.role == direction for g in gemms)
        assert sum(g.flops for g in gemms) == spec.flops()


def test_gemm_orientation_follows_the_layout():
    nchw = ConvSpec.parse("1,64,56,56,64,3,3,1,1")
    nhwc = ConvSpec.parse("1,64,56,56,64,3,3,1,1", layout="NHWC")
    assert [(g.m, g.n, g.k, g.count) for g in nchw.gemms()] == [(64, 3136, 576, 1)]
    assert [(g.m, g.n, g.k, g.count) for g in nhwc.gemms()] == [(3136, 64, 576, 1)]
    grouped = ConvSpec.parse("2,8,6,6,4,3,3,1,1,1,2")
    assert [(g.m, g.n, g.k, g.count, g.batch) for g in grouped.gemms("backward_weight")] == [
        (36, 2, 72, 1, 2)]  # one call stacking the 2 groups
    with pytest.raises(ValueError, match="direction"):
        nchw.gemms("sideways")
    assert nchw.gemms()[0].problem("f64", 2).key() == "float64-t2-64x3136x576"
