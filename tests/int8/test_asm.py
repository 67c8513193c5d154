"""What LLVM made of the micro-kernels: the right instruction on the right registers, no spills."""

from __future__ import annotations

import re

import pytest

from gemmtune.int8 import Int8Params, compile_int8, summarize_int8

from gemmtune.int8 import available_isas

# Inspection needs a fresh compile (numba cannot disassemble code loaded from its cache).
def _case(isa, params, pattern):
    missing = isa not in available_isas()
    return pytest.param(isa, params, pattern, id=isa,
                        marks=pytest.mark.skipif(missing, reason=f"this CPU has no {isa} instructions"))


CASES = [
    _case("vnni512", Int8Params(MR=8, NR=48, MC=16, KC=64, NC=96, isa="vnni512", unroll=1),
     r"vpdpbusd\s[^\n]*%zmm"),
    _case("vnni256", Int8Params(MR=6, NR=16, MC=12, KC=64, NC=32, isa="vnni256", unroll=1),
     r"vpdpbusd\s[^\n]*%ymm"),
    _case("avx2", Int8Params(MR=6, NR=16, MC=12, KC=64, NC=32, isa="avx2", unroll=1),
     # Where VNNI exists LLVM fuses vpmaddwd + vpaddd into vpdpwssd (the same exact sum).
     r"(?:vpmaddwd|vpdpwssd)\s[^\n]*%ymm"),
]


def _blocks(asm: str) -> list[str]:
    """The assembly cut at its labels: a loop body is one block between two labels."""
    return re.split(r"\n\.?L\w+:", asm)


@pytest.mark.parametrize("isa, params, pattern", CASES)
def test_inner_loop_instruction_and_no_spills(tmp_path, isa, params, pattern):
    asm = compile_int8(params, "s8u8", tmp_path).asm()
    blocks = [b for b in _blocks(asm) if len(re.findall(pattern, b)) >= params.MR * params.NR // (16 if isa == "vnni512" else 8)]
    assert blocks, f"no block with a whole tile of {pattern}"
    for b in blocks:
        # The loop body ends at its backward branch; after it come the loop's exit moves.
        body = re.split(r"\n\tj\w+\t", b)[0]
        # The tile lives in registers: no vector register goes to or comes from the stack.
        spills = re.findall(r"^[^\n]*\(%rsp\)[^\n]*%[xyz]mm[^\n]*$|^[^\n]*%[xyz]mm[^\n]*\(%rsp\)[^\n]*$",
                            body, re.M)
        assert not spills, f"vector spills in the k loop: {spills[:3]}"
    # Saturating forms are not exact: vpmaddubsw saturates at int16, vpdp*s at int32.
    assert not re.search(r"vpmaddubsw|vpdpbusds|vpdpwssds", asm)
    summary = summarize_int8(asm)
    assert summary["saturating"] == 0
    reg = "zmm" if isa == "vnni512" else "ymm"
    assert sum(c[reg] for c in summary["dot"].values()) >= params.MR * params.NR // (16 if reg == "zmm" else 8)
