"""Compiled integer kernels shared by the int8 tests.

Every (parameter set, pair) is one numba compile of a few seconds, so the suite uses one
deliberately awkward set per ISA (tiny blocks that no shape size divides, odd MR, every
unroll path) and keeps the compiled code in the session's kernel directory.
"""

from __future__ import annotations

import pytest

from gemmtune.int8 import Int8Params, available_isas, compile_int8

# Tiny cache blocks: every shape above ~20 crosses several jc, pc and ic blocks and cuts
# tiles in both directions. KC is no multiple of 8: K cuts a k group. The VNNI sets' KC of
# 76 and 68 hold 19 and 17 k groups (avx2: 38 pairs): 16-group transposes of A and a rest
# copied group by group.
FRINGE_SETS = {
    "vnni512": Int8Params(MR=5, NR=32, MC=15, KC=76, NC=64, isa="vnni512", unroll=2, parallel="m"),
    "vnni256": Int8Params(MR=3, NR=16, MC=9, KC=68, NC=32, isa="vnni256", unroll=1, parallel="n"),
    "avx2": Int8Params(MR=5, NR=16, MC=10, KC=76, NC=32, isa="avx2", unroll=4, parallel="m"),
    "generic": Int8Params(MR=3, NR=8, MC=9, KC=8, NC=16, isa="generic", unroll=1, parallel="n"),
}
PAIRS = ("u8s8", "s8s8", "u8u8", "s8u8")


def isa_param(isa: str):
    """A pytest param for ``isa`` that skips, with the reason, where the CPU lacks it."""
    missing = isa not in available_isas()
    return pytest.param(isa, marks=pytest.mark.skipif(missing, reason=f"this CPU has no {isa} instructions"))


ISAS = [isa_param(i) for i in FRINGE_SETS]


@pytest.fixture(scope="session")
def int8_kernel(compiled_root):
    """``int8_kernel(isa, pair)``: the fringe kernel for that ISA, compiled once per session."""
    made = {}

    def get(isa: str, pair: str):
        if (isa, pair) not in made:
            made[isa, pair] = compile_int8(FRINGE_SETS[isa], pair, str(compiled_root))
        return made[isa, pair]

    return get
