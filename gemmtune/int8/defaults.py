"""The configuration each ISA runs before anything is tuned.

The register tiles follow the BLIS model with the ISA's register file: vnni512 keeps a
14 x 32 tile (28 zmm accumulators, 2 B vectors, 1 A broadcast) in 32 registers. It beat
FBGEMM's 8 x 48 (24 accumulators, 3 B vectors) in interleaved rounds on the Intel machine:
3.57x against 2.88x numpy's float32 BLAS at 2048^3, 1 thread (docs/int8.md). With 16 registers (AVX2, AVX-VNNI without AVX-512) a 6 x 16 tile keeps 12
accumulators, 2 B vectors and 1 A broadcast. KC keeps the B micro-panel (KC x NR packed
values, 32 KiB for vnni512) inside a 48 KiB L1d; MC x KC of packed A stays within half of a
512 KiB L2.
"""

from __future__ import annotations

from .isa import available_isas, isa_supported, raw_core, vector_registers
from .pairs import normalize_pair
from .params import Int8Params

_DEFAULTS = {
    "vnni512": Int8Params(MR=14, NR=32, MC=112, KC=1024, NC=1536, isa="vnni512", unroll=2),
    "vnni256": Int8Params(MR=6, NR=16, MC=192, KC=512, NC=1536, isa="vnni256", unroll=2),
    "avx2": Int8Params(MR=6, NR=16, MC=96, KC=256, NC=1536, isa="avx2", unroll=2),
    "generic": Int8Params(MR=4, NR=8, MC=64, KC=128, NC=512, isa="generic", unroll=1),
}
# With 32 registers (AVX-512 machines) the 256-bit kernels take a taller tile.
_WIDE = {
    "vnni256": Int8Params(MR=8, NR=24, MC=192, KC=512, NC=1536, isa="vnni256", unroll=2),
    "avx2": Int8Params(MR=8, NR=24, MC=96, KC=256, NC=1536, isa="avx2", unroll=2),
}


def default_for_isa(isa: str, features: dict[str, bool] | None = None) -> Int8Params:
    """The untuned configuration of one ISA (refused when this CPU cannot run it)."""
    if isa in _WIDE and vector_registers(isa, features) >= 32:
        return _WIDE[isa]
    if isa in _DEFAULTS:
        return _DEFAULTS[isa]
    if raw_core(isa) is not None:
        return Int8Params(MR=16, NR=16, MC=64, KC=64, NC=64, isa=isa, unroll=1)
    raise ValueError(f"unknown integer kernel ISA {isa!r}.")


def default_params(pair: str, features: dict[str, bool] | None = None) -> Int8Params:
    """The configuration to run for ``pair`` before anything is tuned: the best generated ISA
    this CPU (or the given LLVM feature dict) has. Registered raw cores are left to the
    search, which measures them against the generated kernels.
    """
    normalize_pair(pair)
    for isa in available_isas(features):
        if isa in _DEFAULTS and (isa == "generic" or isa_supported(isa, features)):
            return default_for_isa(isa, features)
    return _DEFAULTS["generic"]
