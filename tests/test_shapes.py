"""Shape suites: entries in file order, GEMMs, stacks and convolution layers."""

from __future__ import annotations

import json

import pytest

from gemmtune.conv import ConvLayer
from gemmtune.shapes import Shape, load_entries, load_shapes


def test_entries_keep_layers_and_stacks_in_file_order(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"suite": "net", "shapes": [
        {"name": "heads", "m": 8, "n": 8, "k": 4, "batch": 6},
        {"name": "c", "conv": "1,8,9,9,16,3,3,2,1"},
        {"name": "fc", "m": 4, "n": 5, "k": 6}]}))
    name, entries = load_entries(str(path))
    assert name == "net" and [type(e) for e in entries] == [Shape, ConvLayer, Shape]
    assert entries[0].batch == 6 and entries[1].spec.stride == (2, 2)
    # load_shapes lowers the layer to its forward GEMMs, and keeps the stack's batch.
    shapes = load_shapes(str(path))[1]
    assert shapes[0] == entries[0] and [s.name for s in shapes] == ["heads", "c", "fc"]
    assert [e.batch for e in load_entries("attention")[1]][0] == 96


def test_an_entry_without_a_size_is_one_sentence(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"shapes": [{"name": "x", "m": 4, "n": 4}]}))
    with pytest.raises(ValueError, match="shape 0 of .* has no 'k'"):
        load_entries(str(path))
