"""The parameter set of an AMX int8 GEMM kernel, in BLIS vocabulary.

The register blocking is counted in tiles: a micro-kernel keeps TM x TN tiles of C (16 x 16
int32 each) in tile registers, so MR = 16*TM and NR = 16*TN, and loads TM tiles of A and TN
of B per 64-deep step. The eight tile registers bound it: the C tiles, the tiles of the
shorter side (kept for the step) and one streamed tile of the longer side must fit,
TM*TN + min(TM, TN) + 1 <= 8: 2x2 (4 accumulators + 2 kept + 1 streamed), 6x1, 1x6 and
everything smaller. The tiles left over let loads run ahead (tiles.step_schedule).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .geometry import PRODUCT, TILE_K, TILE_N, TILE_ROWS, TILES, tile_budget

PAIRS = tuple(PRODUCT)
# numpy dtype names of (A, B) per pair.
PAIR_DTYPES = {"u8s8": ("uint8", "int8"), "s8s8": ("int8", "int8"),
               "s8u8": ("int8", "uint8"), "u8u8": ("uint8", "uint8")}
# How threads share C: "m" gives each thread a band of rows (each packs all of B), "n" a
# band of columns (each packs all of A).
PARALLEL = ("m", "n")

# Bounds that only guard against typos and hostile files; they are far above anything fast.
MAX_MC, MAX_KC, MAX_NC = 16384, 16384, 65536
UNROLLS = (1, 2, 4, 8)


def normalize_pair(pair: Any) -> str:
    """Check an int8 pair name ("u8s8": A uint8, B int8; "s8s8", "s8u8", "u8u8")."""
    if not isinstance(pair, str) or pair not in PAIRS:
        raise ValueError(f"unknown int8 pair {pair!r}: use one of {', '.join(PAIRS)}.")
    return pair


@dataclass(frozen=True)
class AmxParams:
    """Block sizes and knobs of one AMX kernel.

    Attributes:
        TM: C tiles of the micro-kernel along M (MR = 16*TM rows).
        TN: C tiles of the micro-kernel along N (NR = 16*TN columns).
        MC: rows of the packed A block (ic loop step), a multiple of MR.
        KC: depth of the packed blocks (pc loop step), a multiple of 64 (one tile row of
            int8); a K that is not a multiple of 64 is padded with zeros.
        NC: columns of the packed B block (jc loop step), a multiple of NR.
        unroll: k steps per iteration of the micro-kernel's loop (1, 2, 4 or 8); operand
            tiles rotate through the free tile registers across unrolled steps.
        prefetch_c: prefetch each C block for writing before its k loop.
        parallel: how threads share C: "m" (bands of rows) or "n" (bands of columns).
    """

    TM: int = 2
    TN: int = 2
    MC: int = 128
    KC: int = 2048
    NC: int = 2048
    unroll: int = 2
    prefetch_c: bool = True
    parallel: str = "n"

    FIELDS = ("TM", "TN", "MC", "KC", "NC", "unroll", "prefetch_c", "parallel")

    @property
    def MR(self) -> int:
        return TILE_ROWS * self.TM

    @property
    def NR(self) -> int:
        return TILE_N * self.TN

    def problems(self) -> list[str]:
        """Every invariant this set breaks, one sentence each (empty when valid)."""
        out: list[str] = []
        for name in ("TM", "TN", "MC", "KC", "NC", "unroll"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name} must be an integer, got {value!r}.")
        if not isinstance(self.prefetch_c, bool):
            out.append(f"prefetch_c must be true or false, got {self.prefetch_c!r}.")
        if not isinstance(self.parallel, str) or self.parallel not in PARALLEL:
            out.append(f"parallel must be one of {', '.join(PARALLEL)}, got {self.parallel!r}.")
        if out:
            return out
        if self.TM < 1 or self.TN < 1 or tile_budget(self.TM, self.TN) > TILES:
            out.append(f"a {self.TM} x {self.TN} tile micro-kernel needs at least "
                       f"{tile_budget(self.TM, self.TN)} tile registers ({self.TM * self.TN} C, "
                       f"{min(self.TM, self.TN)} kept, 1 streamed); {TILES} exist.")
            return out
        if self.unroll not in UNROLLS:
            out.append(f"unroll={self.unroll} is not one of {UNROLLS}.")
        for name, hi in (("MC", MAX_MC), ("KC", MAX_KC), ("NC", MAX_NC)):
            value = getattr(self, name)
            if not 1 <= value <= hi:
                out.append(f"{name}={value} is outside 1..{hi}.")
        if out:
            return out
        if self.MC % self.MR:
            out.append(f"MC={self.MC} is not a multiple of MR={self.MR} (16 x TM={self.TM}).")
        if self.KC % TILE_K:
            out.append(f"KC={self.KC} is not a multiple of {TILE_K} (one tile row of int8).")
        if self.NC % self.NR:
            out.append(f"NC={self.NC} is not a multiple of NR={self.NR} (16 x TN={self.TN}).")
        return out

    def validate(self) -> "AmxParams":
        """Raise ValueError naming the first broken invariant; return self when valid."""
        problems = self.problems()
        if problems:
            raise ValueError(f"invalid AMX kernel parameters: {problems[0]}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AmxParams":
        """Build from a mapping; knobs may be missing (defaults), unknown keys are refused."""
        if not isinstance(data, dict):
            raise ValueError(f"AMX kernel parameters must be a JSON object, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown AMX kernel parameter {unknown[0]!r}.")
        for key in ("TM", "TN", "MC", "KC", "NC"):
            if key not in data:
                raise ValueError(f"AMX kernel parameters lack {key}.")
        return cls(**data)

    def replace(self, **changes: Any) -> "AmxParams":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A short stable hash of the set, used in file names."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def label(self) -> str:
        """Kernel name in the BLIS style, e.g. ``amx_2x2_mc128_kc2048_nc2048_u2_n``.

        ``_np`` marks a kernel without the C prefetch.
        """
        return (f"amx_{self.TM}x{self.TN}_mc{self.MC}_kc{self.KC}_nc{self.NC}_u{self.unroll}"
                f"_{self.parallel}{'' if self.prefetch_c else '_np'}")


def default_amx_params(pair: str) -> AmxParams:
    """The configuration used before anything is tuned (the same for every pair).

    2x2 tiles, KC 2048 (one pc block up to K = 2048: C is stored once), NC 2048 (A packed
    once up to N = 2048): the best of 16 searched candidates at 1024^3 and 2048^3 on one
    thread here, with MC 256; MC 128 then measured +9% at 512^3, +26% at 1024^3 and -7% at
    2048^3 against it. Threads take bands of columns ("n"): each packs all of A, a copy,
    rather than all of B, an interleave that is about half as fast (docs/amx.md).
    """
    normalize_pair(pair)
    return AmxParams()
