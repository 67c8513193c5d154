"""Integer GEMM: 8-bit A and B, exact int32 C, with VNNI, AVX2 or portable micro-kernels.

``compile_int8(default_params("u8s8"), "u8s8")(A, B)`` computes A @ B exactly in int32; zero
points follow ONNX MatMulInteger. See docs/int8.md for the design.
"""

from __future__ import annotations

from .defaults import default_for_isa, default_params
from .isa import RawCore, available_isas, register_core, unregister_core
from .inspect import summarize_int8
from .kernel import Int8Kernel, check_int8_operands, compile_int8
from .pairs import DTYPE_PAIRS, f32_exact_k, max_k, normalize_pair, pair_dtypes
from .params import Int8Params
from .space import Int8SearchSpace
from .verify import exact_reference, verify_int8

__all__ = [
    "DTYPE_PAIRS", "Int8Kernel", "Int8Params", "Int8SearchSpace", "RawCore", "available_isas",
    "check_int8_operands", "compile_int8", "default_for_isa", "default_params", "exact_reference",
    "f32_exact_k", "max_k", "normalize_pair", "pair_dtypes", "register_core", "summarize_int8",
    "unregister_core", "verify_int8",
]
