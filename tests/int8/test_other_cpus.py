"""The 256-bit intrinsics select on CPUs without AVX-512: compiled (never run) for their targets.

The machine running the tests may be an AVX-512 one; LLVM can still emit code for another
CPU, which shows the vnni256 kernel's intrinsic becomes AVX-VNNI's ``{vex} vpdpbusd`` on a
client CPU without AVX-512, and the avx2 kernel's becomes ``vpmaddwd`` on Zen 3.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import pytest
from llvmlite import ir

I8, I16, I32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)


def _asm(fn_name: str, ret: ir.Type, args: list[ir.Type], cpu: str, features: str) -> str:
    module = ir.Module(name="probe")
    module.triple = llvm.get_process_triple()
    decl = ir.Function(module, ir.FunctionType(ret, args), fn_name)
    fn = ir.Function(module, ir.FunctionType(ret, args), "probe")
    builder = ir.IRBuilder(fn.append_basic_block())
    builder.ret(builder.call(decl, list(fn.args)))
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(module.triple)
    tm = target.create_target_machine(cpu=cpu, features=features, opt=2)
    return tm.emit_assembly(llvm.parse_assembly(str(module)))


@pytest.mark.skipif(not llvm.get_process_triple().startswith("x86_64"), reason="x86-64 targets only")
def test_vnni256_is_avx_vnni_without_avx512():
    v8, v32 = ir.VectorType(I32, 8), ir.VectorType(I8, 32)
    asm = _asm("llvm.x86.avx512.vpdpbusd.256", v8, [v8, v32, v32], "alderlake", "+avxvnni,-avx512f")
    assert "{vex}" in asm and "vpdpbusd" in asm


@pytest.mark.skipif(not llvm.get_process_triple().startswith("x86_64"), reason="x86-64 targets only")
def test_avx2_is_vpmaddwd_on_zen3():
    v8, v16 = ir.VectorType(I32, 8), ir.VectorType(I16, 16)
    asm = _asm("llvm.x86.avx2.pmadd.wd", v8, [v16, v16], "znver3", "")
    assert "vpmaddwd" in asm and "zmm" not in asm
