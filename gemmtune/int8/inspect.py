"""What LLVM made of an integer kernel: dot-product instructions by register class, spills."""

from __future__ import annotations

import re
from typing import Any

# vpdpbusd (VNNI), vpdpwssd (LLVM's fusion of vpmaddwd + vpaddd where VNNI exists), vpmaddwd.
_DOT = re.compile(r"^\s*(?:\{vex\}\s*)?(vpdpbusd|vpdpwssd|vpmaddwd)\s+[^\n]*%([xyz]mm)\d+\s*$", re.M)
# AMX tile dot products (tdpbusd, tdpbssd, tdpbsud, tdpbuud) on tile registers.
_TILE_DOT = re.compile(r"^\s*(tdpb[su][su]d)\s+%tmm\d+", re.M)
_SATURATING = re.compile(r"^\s*(?:\{vex\}\s*)?(vpmaddubsw|vpdpbusds|vpdpwssds)\b", re.M)
_SPILL = re.compile(r"^\s*vmov\w*\s+[^\n]*%[xyz]mm\d+[^\n]*\(%rsp\)|^\s*vmov\w*\s+[^\n]*\(%rsp\)[^\n]*%[xyz]mm",
                    re.M)


def summarize_int8(asm: str) -> dict[str, Any]:
    """Counts in a kernel's assembly: {"dot": {instr: {xmm, ymm, zmm}}, "saturating": n, "vector_spills": n}.

    ``saturating`` counts instructions that would make the product inexact (it must be 0);
    ``vector_spills`` counts vector moves to or from the stack anywhere in the driver (the
    packing and edge code have some; the k loop has none, see tests/int8/test_asm.py).
    """
    dot: dict[str, dict[str, int]] = {}
    for m in _DOT.finditer(asm):
        cls = dot.setdefault(m.group(1), {"xmm": 0, "ymm": 0, "zmm": 0})
        cls[m.group(2)] += 1
    for m in _TILE_DOT.finditer(asm):
        cls = dot.setdefault(m.group(1), {"tmm": 0})
        cls["tmm"] += 1
    return {"dot": dot, "saturating": len(_SATURATING.findall(asm)), "vector_spills": len(_SPILL.findall(asm))}
