"""The parameter set of a generated integer GEMM kernel, in BLIS vocabulary."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .isa import k_group, known_isas, lanes, raw_core
from .pairs import normalize_pair

# How threads share the work: each thread runs the serial kernel on a band of C's rows
# ("m") or columns ("n"); the operand the bands share is packed once per thread.
PARALLEL_LOOPS = ("m", "n")
UNROLLS = (1, 2, 4, 8)

# Bounds far above anything fast; they guard against typos and hostile files.
MAX_MR, MAX_NR = 32, 256
MAX_KC, MAX_MC, MAX_NC = 16384, 16384, 65536
# KC is a multiple of this: the VNNI k group (4 bytes per 32-bit lane), which also covers
# the vpmaddwd pair and the generic kernel's single k.
KC_UNIT = 4


@dataclass(frozen=True)
class Int8Params:
    """Block sizes and generator knobs of one integer kernel.

    Attributes:
        MR: rows of the register tile; A is packed into MR-row slivers.
        NR: columns of the register tile, a multiple of the int32 lanes of the ISA's vector
            (16 for vnni512, 8 for vnni256 and avx2); B is packed into NR-column slivers.
        MC: rows of the packed A block (ic loop step), a multiple of MR.
        KC: depth of the packed blocks (pc loop step), a multiple of 4 (the VNNI k group).
        NC: columns of the packed B block (jc loop step), a multiple of NR.
        isa: "vnni512", "vnni256", "avx2", "generic" (or a registered raw core).
        unroll: k groups per iteration of the micro-kernel's k loop.
        parallel: how threads share the work, "m" (bands of rows) or "n" (of columns).
    """

    MR: int = 8
    NR: int = 32
    MC: int = 96
    KC: int = 256
    NC: int = 4096
    isa: str = "generic"
    unroll: int = 2
    parallel: str = "m"

    FIELDS = ("MR", "NR", "MC", "KC", "NC", "isa", "unroll", "parallel")
    SIZES = ("MR", "NR", "MC", "KC", "NC")

    def problems(self, pair: str | None = None) -> list[str]:
        """Every invariant this set breaks, one sentence each (empty when valid)."""
        out: list[str] = []
        for name in self.SIZES + ("unroll",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name} must be an integer, got {value!r}.")
        if not isinstance(self.isa, str) or self.isa not in known_isas():
            out.append(f"isa must be one of {', '.join(known_isas())}, got {self.isa!r}.")
        if not isinstance(self.parallel, str) or self.parallel not in PARALLEL_LOOPS:
            out.append(f"parallel must be one of {', '.join(PARALLEL_LOOPS)}, got {self.parallel!r}.")
        if pair is not None:
            try:
                pair = normalize_pair(pair)
            except ValueError as exc:
                out.append(str(exc))
        if out:
            return out
        bounds = {"MR": MAX_MR, "NR": MAX_NR, "MC": MAX_MC, "KC": MAX_KC, "NC": MAX_NC}
        for name, hi in bounds.items():
            if not 1 <= getattr(self, name) <= hi:
                out.append(f"{name}={getattr(self, name)} is outside 1..{hi}.")
        if self.unroll not in UNROLLS:
            out.append(f"unroll={self.unroll} is not one of {UNROLLS}.")
        if out:
            return out
        if self.MC % self.MR:
            out.append(f"MC={self.MC} is not a multiple of MR={self.MR}.")
        if self.NC % self.NR:
            out.append(f"NC={self.NC} is not a multiple of NR={self.NR}.")
        if self.KC % KC_UNIT:
            out.append(f"KC={self.KC} is not a multiple of {KC_UNIT} (the VNNI k group).")
        vl = lanes(self.isa)
        if self.NR % vl:
            out.append(f"NR={self.NR} is not a multiple of the {vl} int32 lanes of a {self.isa} vector.")
        core = raw_core(self.isa)
        if pair is not None and core is not None and pair not in core.pairs:
            out.append(f"the {self.isa} core does not multiply {pair}.")
        return out

    def validate(self, pair: str | None = None) -> "Int8Params":
        """Raise ValueError naming the first broken invariant; return self when valid."""
        problems = self.problems(pair)
        if problems:
            raise ValueError(f"invalid integer kernel parameters: {problems[0]}")
        return self

    @property
    def k_group(self) -> int:
        """k values packed together for one lane of the micro-kernel (4, 2 or 1)."""
        return k_group(self.isa)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Int8Params":
        """Build from a mapping; missing knobs take their defaults, unknown keys are refused."""
        if not isinstance(data, dict):
            raise ValueError(f"integer kernel parameters must be a JSON object, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown integer kernel parameter {unknown[0]!r}.")
        for key in cls.SIZES + ("isa",):
            if key not in data:
                raise ValueError(f"integer kernel parameters lack {key}.")
        return cls(**data)

    def replace(self, **changes: Any) -> "Int8Params":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A short stable hash of the set, used in file names."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def label(self) -> str:
        """Kernel name in the BLIS style, e.g. ``vnni512_8x48_mc384_kc512_nc4080_u2_m``."""
        return (f"{self.isa}_{self.MR}x{self.NR}_mc{self.MC}_kc{self.KC}_nc{self.NC}"
                f"_u{self.unroll}_{self.parallel}")
