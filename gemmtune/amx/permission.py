"""Whether this process may run AMX tile instructions.

Two things must hold. The CPU must have the tile unit and its int8 products (``amx-tile``
and ``amx-int8`` in LLVM's host features). And Linux (5.16 and later) must have granted the
process the tile data state: AMX registers are 8 KiB of extra XSAVE state, so the kernel
enables them only on request, with ``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``,
and kills a process that runs a tile instruction without it (SIGILL, no Python exception).
The permission is per process and is asked for once; ``ARCH_GET_XCOMP_PERM`` reads the
granted feature mask back, so a kernel that accepted the call but did not grant the state
is caught too.
"""

from __future__ import annotations

import ctypes
import platform
import sys
import threading

SYS_ARCH_PRCTL = 158  # x86-64 syscall number of arch_prctl
ARCH_GET_XCOMP_PERM = 0x1022
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18
REQUIRED_FEATURES = ("amx-tile", "amx-int8")

_lock = threading.Lock()
_granted: tuple[bool, str] | None = None


def host_features() -> dict[str, bool]:
    """LLVM's feature map for this CPU (empty when LLVM cannot list it)."""
    import llvmlite.binding as llvm

    try:
        return {str(k): bool(v) for k, v in llvm.get_host_cpu_features().items()}
    except RuntimeError:
        return {}


def amx_available(features: dict[str, bool] | None = None) -> tuple[bool, str]:
    """(True, "") when tile instructions may run here, else (False, why not).

    Args:
        features: an LLVM feature map to decide from instead of this CPU's (tests force
            a CPU without AMX this way). The kernel's permission is asked for only when
            the features say the CPU has AMX, and only on Linux x86-64.

    Returns:
        ``(ok, reason)``; ``reason`` is one sentence when ``ok`` is False.
    """
    feats = host_features() if features is None else features
    missing = [f for f in REQUIRED_FEATURES if not feats.get(f, False)]
    if missing:
        return False, f"the CPU has no AMX ({', '.join(missing)} missing)."
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return False, f"AMX permission is only requested on Linux x86-64, not {sys.platform} {platform.machine()}."
    return request_tile_permission()


def request_tile_permission() -> tuple[bool, str]:
    """Ask Linux for the tile data state, once per process; the answer is remembered."""
    global _granted
    with _lock:
        if _granted is None:
            _granted = _request()
        return _granted


def _request() -> tuple[bool, str]:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError) as exc:
        return False, f"the C library's syscall() is not reachable ({exc})."
    syscall.restype = ctypes.c_long
    syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_ulong]
    if syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0:
        err = ctypes.get_errno()
        return False, (f"the Linux kernel refused the AMX tile data permission "
                       f"(arch_prctl ARCH_REQ_XCOMP_PERM: errno {err}).")
    mask = ctypes.c_ulong(0)
    syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
    if syscall(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_PERM, ctypes.addressof(mask)) != 0:
        err = ctypes.get_errno()
        return False, f"the Linux kernel did not report the AMX permission (errno {err})."
    if not mask.value >> XFEATURE_XTILEDATA & 1:
        return False, (f"the Linux kernel accepted the AMX request but did not grant the tile "
                       f"data state (permitted mask {mask.value:#x}).")
    return True, ""
