"""Sizes of AMX palette 1 and the tile budget: plain numbers, importable without numba."""

from __future__ import annotations

TILES = 8            # tile registers of palette 1
TILE_ROWS = 16       # rows per tile
TILE_BYTES = 64      # bytes per tile row: 64 int8, or 16 int32 of C
TILE_K = 64          # k values one tile product consumes (a row of A holds 64 bytes)
TILE_N = 16          # columns of C per tile (16 int32 in 64 bytes)
TILE_SIZE = TILE_ROWS * TILE_BYTES

# The tile product per (A, B) pair, named by the signedness of (src1 = A, src2 = B): A's
# bytes come from src1 rows, B's from src2 in the VNNI layout. Native signedness means no
# +128 shift and no column-sum compensation.
PRODUCT = {"u8s8": "tdpbusd", "s8s8": "tdpbssd", "s8u8": "tdpbsud", "u8u8": "tdpbuud"}


def tile_budget(tm: int, tn: int) -> int:
    """Tile registers a TM x TN micro-kernel needs at least: its C tiles, the operand tiles
    reused across the step (the shorter side) and one streamed tile of the other side."""
    return tm * tn + min(tm, tn) + 1
