"""The untuned parameters of small products (gemmtune/small.py): what the cost model picks."""

from __future__ import annotations

import pytest

from gemmtune.small import stack_params


def _tile(m, n, k, vec_bits=256, registers=16, dtype="float32"):
    p = stack_params(m, n, k, dtype, 1, vec_bits=vec_bits, registers=registers)
    return f"{p.MR}x{p.NR}"


@pytest.mark.parametrize("shape,tile", [
    ((16, 16, 16), "4x16"),    # no edge: 6 rows would leave a 4-row edge tile per product
    ((32, 32, 32), "4x16"),
    ((64, 64, 64), "4x16"),    # measured on Zen 3: 6x16 0.85x of it on a stack of 64^3
    ((128, 128, 128), "6x16"),  # measured: 1.15x of 4x16, 1.6x of 2x32
    ((48, 48, 48), "6x16"),
])
def test_avx2_float32_tiles_follow_the_measurements(shape, tile):
    assert _tile(*shape) == tile


def test_ties_go_to_the_narrower_tile():
    """4x16 and 2x32 cost the same in the model; 2x32 ran 128^3 at 0.64x of 6x16 on Zen 3."""
    assert _tile(32, 32, 32) != "2x32" and _tile(64, 64, 64) != "2x32"


def test_small_products_with_one_tile_share_one_kernel():
    """The blocks do not depend on the product's sizes: one compile serves every product
    that runs the same tile."""
    by_tile: dict[tuple[int, int], set[str]] = {}
    for m, n, k in [(64, 64, 64), (128, 40, 40), (32, 64, 48), (96, 16, 33), (128, 128, 128),
                    (256, 96, 20), (48, 48, 7)]:
        p = stack_params(m, n, k, "float32", 1, vec_bits=256, registers=16)
        by_tile.setdefault((p.MR, p.NR, p.unroll), set()).add(p.label())
    assert len(by_tile) < 7 and all(len(labels) == 1 for labels in by_tile.values()), by_tile


def test_the_default_is_a_point_of_the_search_space():
    """A search of a small product starts from the very kernel the default runs."""
    from gemmtune.search.space import SearchSpace

    space = SearchSpace.for_machine("float32", vec_widths=(256,), vector_registers=16)
    for shape in [(16, 16, 16), (64, 64, 64), (128, 128, 128), (7, 5, 3)]:
        p = stack_params(*shape, "float32", 1, vec_bits=256, registers=16)
        assert space.snap(p) == p, shape
