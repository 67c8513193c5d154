"""Which integer micro-kernels this CPU can run, decided from its LLVM feature set.

LLVM does not reject an instruction the target lacks: compiling a VNNI intrinsic for a CPU
without VNNI aborts the whole process ("LLVM ERROR: Cannot select"). So nothing is compiled
for an ISA that ``available_isas`` does not list, and asking for one raises ValueError.

A raw core built elsewhere (an AMX tile kernel, say) joins as one more ISA with
``register_core``: the wrapper (int8/kernel.py) handles its layouts, zero points and K limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Generated here, best first.
GENERATED_ISAS = ("vnni512", "vnni256", "avx2", "generic")

# LLVM feature names each generated ISA needs (all of them).
REQUIRES: dict[str, tuple[str, ...]] = {
    "vnni512": ("avx512f", "avx512bw", "avx512vnni"),
    "avx2": ("avx2",),
    "generic": (),
}
# vnni256 is either AVX512-VNNI with VL (EVEX vpdpbusd on ymm) or AVX-VNNI ({vex} vpdpbusd).
_VNNI256_ANY = (("avx512vnni", "avx512vl"), ("avxvnni",))


@dataclass(frozen=True)
class RawCore:
    """An externally built integer GEMM core, plugged in as an ISA.

    Attributes:
        isa: its name in Int8Params.isa.
        requires: LLVM features it needs (all of them).
        build: ``build(params, pair) -> raw`` where ``raw(A, B, C, beta, threads)`` computes
            C = A @ B (+ C when beta is 1) for C-contiguous 8-bit A (M, K), B (K, N) and
            C-contiguous int32 C, exactly, without zero points.
        pairs: the dtype pairs it multiplies.
        rank: position among the ISAs, lower is preferred.
        available: an extra run-time check (e.g. the OS granted AMX tile state); None: none.
    """

    isa: str
    requires: tuple[str, ...]
    build: Callable[..., Callable[..., Any]]
    pairs: tuple[str, ...] = ("u8s8", "s8s8", "u8u8", "s8u8")
    rank: int = 0
    available: Callable[[], bool] | None = None


_cores: dict[str, RawCore] = {}


def register_core(core: RawCore) -> None:
    """Make ``core.isa`` an ISA that Int8Params, the search space and compile_int8 accept."""
    if core.isa in GENERATED_ISAS:
        raise ValueError(f"{core.isa!r} is a generated ISA and cannot be replaced.")
    _cores[core.isa] = core


def unregister_core(isa: str) -> None:
    _cores.pop(isa, None)


def raw_core(isa: str) -> RawCore | None:
    return _cores.get(isa)


def known_isas() -> tuple[str, ...]:
    """Every ISA name a parameter set may carry, registered cores first by rank."""
    extra = sorted(_cores.values(), key=lambda c: (c.rank, c.isa))
    return tuple(c.isa for c in extra) + GENERATED_ISAS


def host_features() -> dict[str, bool]:
    """This CPU's LLVM feature map (empty when LLVM cannot list it)."""
    import llvmlite.binding as llvm

    try:
        return {str(k): bool(v) for k, v in llvm.get_host_cpu_features().items()}
    except RuntimeError:
        return {}


def _has(features: dict[str, bool], names: tuple[str, ...]) -> bool:
    return all(features.get(n, False) for n in names)


def isa_supported(isa: str, features: dict[str, bool] | None = None) -> bool:
    f = host_features() if features is None else features
    if isa == "vnni256":
        return any(_has(f, need) for need in _VNNI256_ANY)
    if isa in REQUIRES:
        return _has(f, REQUIRES[isa])
    core = _cores.get(isa)
    if core is None or not _has(f, core.requires):
        return False
    # The run-time check is about this process, so it only applies to this CPU's features.
    return features is not None or core.available is None or bool(core.available())


def available_isas(features: dict[str, bool] | None = None) -> tuple[str, ...]:
    """The ISAs this CPU (or the given LLVM feature dict) can run, best first; "generic" always."""
    return tuple(isa for isa in known_isas() if isa == "generic" or isa_supported(isa, features))


def require_isa(isa: str, features: dict[str, bool] | None = None) -> None:
    """Raise ValueError with one sentence unless this CPU can run ``isa``."""
    if isa not in known_isas():
        raise ValueError(f"unknown integer kernel ISA {isa!r}: use one of {', '.join(known_isas())}.")
    if isa != "generic" and not isa_supported(isa, features):
        raise ValueError(f"this CPU cannot run the {isa} integer kernel (it lacks the instructions); "
                         f"available here: {', '.join(available_isas(features))}.")


def vector_registers(isa: str, features: dict[str, bool] | None = None) -> int:
    """Vector registers a micro-kernel of ``isa`` may use: 32 with AVX-512, else 16."""
    f = host_features() if features is None else features
    if isa == "vnni512" or (isa in ("vnni256", "avx2") and f.get("avx512f", False)):
        return 32
    return 16


def lanes(isa: str) -> int:
    """int32 lanes of one accumulator vector (the unit NR is a multiple of)."""
    return {"vnni512": 16, "vnni256": 8, "avx2": 8}.get(isa, 1)


def k_group(isa: str) -> int:
    """k values one lane consumes per instruction: 4 bytes (vpdpbusd), 2 int16 (vpmaddwd), 1."""
    return {"vnni512": 4, "vnni256": 4, "avx2": 2}.get(isa, 1)
