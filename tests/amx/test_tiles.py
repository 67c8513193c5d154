"""The tile instructions: the operand schedule, and one 16 x 16 x 64 product per pair."""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.amx import PAIR_DTYPES, PAIRS
from gemmtune.amx.geometry import TILES, tile_budget
from gemmtune.amx.space import TILE_SHAPES

from .conftest import needs_amx, reference


@pytest.mark.parametrize("tiles", TILE_SHAPES)
@pytest.mark.parametrize("steps", [1, 3])
def test_schedule_never_overwrites_a_live_tile(tiles, steps):
    from gemmtune.amx.tiles import step_schedule

    tm, tn = (int(x) for x in tiles.split("x"))
    for ops in step_schedule(tm, tn, steps):
        loaded_a: dict[int, int] = {}
        loaded_b: dict[int, int] = {}
        dots = set()
        for op in ops:
            if op[0] in ("loadA", "loadB"):
                tile = op[1]
                assert tm * tn <= tile < TILES, "an operand landed on a C accumulator"
                loaded_a.pop(tile, None)
                loaded_b.pop(tile, None)
                (loaded_a if op[0] == "loadA" else loaded_b)[tile] = op[2]
            else:
                _, c, a, b = op
                # The product reads the A row block and B column block that C needs.
                i, j = loaded_a[a], loaded_b[b]
                assert c == i * tn + j
                dots.add(c)
        assert dots == set(range(tm * tn)), "a step must update every C tile once"


def test_too_many_tiles_is_refused():
    from gemmtune.amx.tiles import make_amx_ukernel, step_schedule

    assert tile_budget(2, 3) > TILES
    with pytest.raises(ValueError, match="needs at least 9 tiles"):
        step_schedule(2, 3, 1)
    with pytest.raises(ValueError, match="unknown int8 pair"):
        make_amx_ukernel(1, 1, "f32f32")


@needs_amx
@pytest.mark.parametrize("pair", PAIRS)
def test_one_tile_product_is_exact(pair):
    """16 x 16 x 64 with the extremes of each dtype: the native instruction per pair."""
    from numba import njit

    from gemmtune.amx.tiles import make_amx_ukernel, tile_config, tile_release

    uk = make_amx_ukernel(1, 1, pair)

    @njit
    def run(a, b, c, acc):
        tile_config()
        uk(1, a, 0, b, 0, c, 0, 16, acc)
        tile_release()

    rng = np.random.default_rng(7)
    ta, tb = (np.dtype(t) for t in PAIR_DTYPES[pair])
    A = rng.integers(np.iinfo(ta).min, np.iinfo(ta).max, (16, 64), dtype=ta, endpoint=True)
    B = rng.integers(np.iinfo(tb).min, np.iinfo(tb).max, (64, 16), dtype=tb, endpoint=True)
    A[0] = np.iinfo(ta).max
    A[1] = np.iinfo(ta).min
    B[:, 0] = np.iinfo(tb).max
    B[:, 1] = np.iinfo(tb).min
    # VNNI layout: row r of the B tile holds B[4r + q, j] at byte 4j + q.
    Bv = np.ascontiguousarray(B.reshape(16, 4, 16).transpose(0, 2, 1).reshape(16, 64))
    C = np.full((16, 16), -12345, dtype=np.int32)
    run(A, Bv, C, 0)
    assert np.array_equal(C, reference(A, B))
    run(A, Bv, C, 1)
    assert np.array_equal(C, 2 * reference(A, B))
