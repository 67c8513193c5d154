"""Convolution suites: the shipped resnet50 suite and shape files with "conv" entries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gemmtune.conv import ConvSpec, load_conv_suite
from gemmtune.shapes import load_shapes


def test_resnet50_suite_has_the_networks_convolutions():
    name, layers = load_conv_suite("resnet50")
    assert name == "resnet50" and len(layers) == 23
    assert sum(layer.repeat for layer in layers) == 53  # ResNet-50's convolution count
    assert len({layer.spec for layer in layers}) == 23
    conv1 = layers[0].spec
    assert conv1 == ConvSpec(1, 3, 224, 224, 64, 7, 7, stride=2, padding=3)
    assert conv1.output_hw() == (112, 112)
    # About 4.1 GMAC in ResNet-50's convolutions at 224x224.
    gmacs = sum(layer.repeat * layer.spec.flops() for layer in layers) / 2e9
    assert 4.0 < gmacs < 4.2


def test_load_shapes_lowers_a_conv_suite_to_its_forward_gemms():
    name, shapes = load_shapes("resnet50")
    _, layers = load_conv_suite("resnet50")
    want = {(g.m, g.n, g.k) for layer in layers for g in layer.spec.gemms("forward")}
    assert name == "resnet50" and {(s.m, s.n, s.k) for s in shapes} == want
    assert len(shapes) == len(want)  # layers with the same GEMM share one tuning
    for suite in ("mlp", "transformer", "skinny"):
        assert load_shapes(suite)[1]


def test_conv_entries_as_text_or_object(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"suite": "net", "shapes": [
        {"name": "a", "conv": "2,8,9,9,16,3,3,2,1"},
        {"name": "dw", "conv": {"n": 1, "c": 8, "h": 9, "w": 9, "k": 8, "r": 3, "s": 3,
                                "padding": 1, "groups": 8}, "repeat": 3},
        {"name": "fc", "m": 4, "n": 5, "k": 6}]}))
    name, layers = load_conv_suite(str(path), layout="NHWC")
    assert name == "net" and [layer.name for layer in layers] == ["a", "dw"]
    assert layers[0].spec.stride == (2, 2) and layers[0].spec.layout == "NHWC"
    assert layers[1].spec.groups == 8 and layers[1].repeat == 3
    assert [s.name for s in load_shapes(str(path))[1]] == ["a", "dw", "fc"]


@pytest.mark.parametrize("entry, words", [
    ({"conv": "1,2,3"}, "shape 0 of .*not N,C,H,W,K,R,S"),
    ({"conv": "1,4,2,2,4,5,5"}, "shape 0 of .*kernel spans 5"),
    ({"conv": 7}, "must be text"),
    ({"conv": {"n": 1}}, "lacks 'c'"),
    ({"conv": "1,4,5,5,4,3,3", "repeat": 0}, "repeat=0"),
])
def test_bad_conv_entries(tmp_path, entry, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"suite": "bad", "shapes": [entry]}))
    with pytest.raises(ValueError, match=words):
        load_conv_suite(str(path))
    with pytest.raises(ValueError, match=words):
        load_shapes(str(path))


def test_a_gemm_suite_has_no_convolutions():
    with pytest.raises(ValueError, match="no convolution entries"):
        load_conv_suite("mlp")
    with pytest.raises(ValueError, match="no shape file"):
        load_conv_suite("no-such-suite")


def test_import_stays_light():
    # ConvSpec, plans and suites are for the CLI: they must not start numba.
    code = ("import sys, gemmtune; from gemmtune.conv import ConvSpec, conv2d_plan, load_conv_suite; "
            "load_conv_suite('resnet50'); conv2d_plan(ConvSpec.parse('1,64,56,56,64,3,3,1,1')); "
            "assert callable(gemmtune.conv2d) and callable(gemmtune.conv2d_backward); "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
