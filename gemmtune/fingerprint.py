"""Hardware identity: what must match for a tuned configuration to be trusted here.

A tuning is only as good as the machine and the code it was measured on. The identity holds
what decides kernel speed: the ISA features the generated code can use, the cache geometry the
block sizes are chosen for, the usable cores, and the versions of the code generator (numba,
llvmlite, LLVM, gemmtune's own template). Its hash is the key of every stored tuning.

Names alone are not trusted (a hypervisor can report a generic brand string, or an LLVM CPU
name that does not match the features it exposes), so brand, hostname and BLAS details are
recorded for people to read but are kept out of the hash.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

SYSFS_CPU = Path("/sys/devices/system/cpu")

# Features a generated kernel can use or that change which vector width LLVM picks. Prefixes
# end with "*"; everything else must match exactly (so "fma4" or "sse4a" variants of a prefix
# family are kept, but unrelated flags such as "avx512" look-alikes in other names are not).
_ISA_PATTERNS = ("sse*", "ssse3", "avx*", "fma", "f16c", "amx*", "neon", "sve*")

_SIZE_SUFFIX = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}

_cached: dict[str, Any] | None = None
_cached_identity: dict[str, Any] | None = None
_cached_id: str | None = None


def fingerprint(refresh: bool = False) -> dict[str, Any]:
    """This machine's fingerprint, computed once per process.

    Args:
        refresh: recompute instead of returning the memoised value.

    Returns:
        ``{"id": str, "identity": {...}, "recorded": {...}}``; only ``identity`` is hashed into
        ``id``. The caller gets its own copy and may change it freely.
    """
    global _cached, _cached_identity, _cached_id
    if _cached is None or refresh:
        identity = _identity() if refresh or _cached_identity is None else _cached_identity
        _cached_identity = identity
        _cached_id = None
        _cached = {"id": compute_id(identity), "identity": identity, "recorded": _recorded()}
    return copy.deepcopy(_cached)


def compute_id(identity: dict[str, Any]) -> str:
    """The short stable id of an identity: 12 hex chars of sha256 over its canonical JSON."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def fingerprint_id() -> str:
    """``fingerprint()["id"]``, without reading the recorded fields.

    The recorded fields (BLAS through threadpoolctl, package versions) take 6-9 ms and are
    not part of the id; ``gemmtune.matmul``'s first call needs only the id.
    """
    global _cached_identity, _cached_id
    if _cached is not None:
        return _cached["id"]
    if _cached_id is None:
        if _cached_identity is None:
            _cached_identity = _identity()
        # Every matmul call asks: hash the identity once, not per call.
        _cached_id = compute_id(_cached_identity)
    return _cached_id


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), the default for ``--threads``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- derived views, used by the search space and the BLIS analytical model -----------------

def _identity_of(fp: dict[str, Any] | None) -> dict[str, Any]:
    if fp is None:
        fp = fingerprint()
    return fp.get("identity", fp)


def isa_family(fp: dict[str, Any] | None = None) -> str:
    """The seed-configuration family: "avx512", "avx2", "neon" or "generic".

    Args:
        fp: a fingerprint (or its identity); this machine's when None.
    """
    ident = _identity_of(fp)
    isa = set(ident.get("isa", ()))
    if "avx512f" in isa:
        return "avx512"
    if "avx2" in isa and "fma" in isa:
        return "avx2"
    if "neon" in isa or ident.get("arch") in ("aarch64", "arm64"):
        return "neon"
    return "generic"


def vector_bits(fp: dict[str, Any] | None = None) -> int:
    """Widest vector register the ISA offers for floating point: 512, 256 or 128."""
    isa = set(_identity_of(fp).get("isa", ()))
    if "avx512f" in isa:
        return 512
    if "avx" in isa:
        return 256
    return 128


def vector_registers(fp: dict[str, Any] | None = None) -> int:
    """Architectural vector registers (N_vr in the BLIS model): 32 zmm or NEON, else 16."""
    return 32 if isa_family(fp) in ("avx512", "neon") else 16


def cache_level(fp: dict[str, Any] | None, level: int) -> dict[str, Any] | None:
    """Geometry of the data or unified cache at ``level`` (1, 2, 3), complete and consistent.

    Missing sets, ways or line size are derived from the other readings where possible
    (size = ways * sets * line). Hypervisors sometimes report odd values, so the result is
    only a reading: a model using it must still bound what it derives.

    Args:
        fp: a fingerprint (or its identity); this machine's when None.
        level: the cache level.

    Returns:
        ``{"level", "type", "size", "ways", "line", "sets"}`` with positive integers, or None
        when there is no such cache or its geometry cannot be made whole.
    """
    for c in _identity_of(fp).get("caches", ()):
        if c.get("level") != level or c.get("type") not in ("Data", "Unified"):
            continue
        size, ways, line, sets = (c.get(k) for k in ("size", "ways", "line", "sets"))
        if not _positive(line):
            return None
        if not _positive(sets) and _positive(size) and _positive(ways):
            sets = size // (ways * line)
        if not _positive(ways) and _positive(size) and _positive(sets):
            ways = size // (sets * line)
        if not _positive(size) and _positive(ways) and _positive(sets):
            size = ways * sets * line
        if not all(_positive(v) for v in (size, ways, sets)):
            return None
        return {"level": level, "type": c["type"], "size": size, "ways": ways, "line": line,
                "sets": sets}
    return None


# -- reading the machine -------------------------------------------------------------------

def _identity() -> dict[str, Any]:
    from importlib.metadata import version

    import llvmlite.binding as llvm

    from .families import generator_hash

    return {
        "arch": platform.machine(),
        "cpu_name": llvm.get_host_cpu_name(),
        "isa": isa_features(_host_features(llvm)),
        "caches": read_caches(),
        "cores": usable_cores(),
        "numba": version("numba"),
        "llvmlite": version("llvmlite"),
        "llvm": ".".join(str(v) for v in llvm.llvm_version_info),
        "generator": generator_hash(),
    }


def _host_features(llvm: Any) -> dict[str, bool]:
    try:
        return {str(k): bool(v) for k, v in llvm.get_host_cpu_features().items()}
    except RuntimeError:
        # LLVM cannot list features on some hosts; the name and arch still identify it.
        return {}


def isa_features(features: dict[str, bool]) -> list[str]:
    """The enabled kernel-relevant features of an LLVM feature map, sorted."""
    keep = []
    for name, enabled in features.items():
        if enabled and any(name.startswith(p[:-1]) if p.endswith("*") else name == p
                           for p in _ISA_PATTERNS):
            keep.append(name)
    return sorted(keep)


def read_caches(cpu_dir: Path | None = None) -> list[dict[str, Any]]:
    """Cache geometry from sysfs, one dict per cache index, ordered by level then type.

    Args:
        cpu_dir: a ``.../cpuN`` directory; by default cpu0, or the first CPU this process may
            run on when cpu0 has no cache information.

    Returns:
        ``[{"level", "type", "size", "ways", "line", "sets"}, ...]``; a value that is missing
        or unreadable is None, and a missing directory gives an empty list.
    """
    if cpu_dir is None:
        candidates = [SYSFS_CPU / "cpu0"]
        try:
            candidates.append(SYSFS_CPU / f"cpu{min(os.sched_getaffinity(0))}")
        except (AttributeError, OSError, ValueError):
            pass
    else:
        candidates = [Path(cpu_dir)]
    for cpu in candidates:
        caches = _read_cache_dir(cpu / "cache")
        if caches:
            return caches
    return []


def _read_cache_dir(cache_dir: Path) -> list[dict[str, Any]]:
    try:
        indices = [p for p in cache_dir.iterdir() if re.fullmatch(r"index\d+", p.name)]
    except OSError:
        return []
    out = []
    for idx in sorted(indices, key=lambda p: int(p.name[5:])):
        entry = {
            "level": _int(_read(idx / "level")),
            "type": _read(idx / "type"),
            "size": _size(_read(idx / "size")),
            "ways": _int(_read(idx / "ways_of_associativity")),
            "line": _int(_read(idx / "coherency_line_size")),
            "sets": _int(_read(idx / "number_of_sets")),
        }
        if entry["level"] is not None:
            out.append(entry)
    out.sort(key=lambda c: (c["level"], str(c["type"])))
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _size(text: str | None) -> int | None:
    """Parse sysfs sizes such as "32K", "32768K", "1M" or "512" into bytes."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*([KMG]?)(?:i?B)?", text.upper())
    if not m:
        return None
    return int(m.group(1)) * _SIZE_SUFFIX[m.group(2)]


def _positive(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _recorded() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        numpy_version = version("numpy")
    except PackageNotFoundError:
        numpy_version = None
    return {
        "brand": _brand(),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "numpy": numpy_version,
        "blas": _blas(),
    }


def _brand() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _blas() -> list[dict[str, Any]]:
    """numpy's BLAS libraries as threadpoolctl sees them (numpy must be loaded to be seen)."""
    try:
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    try:
        info = threadpool_info()
    except Exception:  # threadpoolctl inspects foreign libraries; never fail the fingerprint
        return []
    return [{"vendor": lib.get("internal_api"), "version": lib.get("version"),
             "architecture": lib.get("architecture"), "threading": lib.get("threading_layer"),
             "num_threads": lib.get("num_threads")}
            for lib in info if lib.get("user_api") == "blas"]
