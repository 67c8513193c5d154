"""What LLVM made of a kernel: FMA counts, vector width and stack traffic in its assembly.

The register tile only pays if the FMAs run on the widest vectors and the accumulators never
leave the registers; both show in the assembly. Stack accesses (``rsp``-relative loads and
stores of vector registers) in a function whose micro-kernels are inlined are the spills to
look for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class AsmSummary:
    fma: dict[str, int]          # FMA instructions by register class: xmm, ymm, zmm
    vector_spills: int           # vector loads/stores addressed relative to rsp
    instructions: int

    def to_dict(self) -> dict:
        return {"fma": self.fma, "vector_spills": self.vector_spills, "instructions": self.instructions}


_FMA = re.compile(r"^\s*v?fn?m(?:add|sub)\w*\s+.*?%?([xyz]mm)\d+", re.M)
_SPILL = re.compile(r"^\s*vmov\w*\s+[^\n]*%?[xyz]mm\d+[^\n]*\(%rsp\)|^\s*vmov\w*\s+[^\n]*\(%rsp\)[^\n]*%?[xyz]mm", re.M)


def summarize(asm: str) -> AsmSummary:
    fma = {"xmm": 0, "ymm": 0, "zmm": 0}
    for m in _FMA.finditer(asm):
        fma[m.group(1)] += 1
    lines = [ln for ln in asm.splitlines() if ln.startswith("\t") and not ln.lstrip().startswith(".")]
    return AsmSummary(fma, len(_SPILL.findall(asm)), len(lines))


def kernel_asm(kernel) -> str:
    """The assembly of a compiled GemmKernel's driver (micro-kernels inlined)."""
    kernel.compile()
    return "\n".join(kernel.module.gemm.inspect_asm().values())
