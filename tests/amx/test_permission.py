"""amx_available: the CPU features, the platform and the Linux permission decide."""

from __future__ import annotations

import ctypes

import pytest

from gemmtune.amx import amx_available, permission

from .conftest import needs_amx

# LLVM's feature map of an AMD Zen 3 (AVX2 + FMA, no AVX-512, no AMX).
ZEN3 = {"avx": True, "avx2": True, "fma": True, "avx512f": False, "avx512vnni": False,
        "amx-tile": False, "amx-int8": False, "amx-bf16": False}


def test_cpu_without_amx_is_refused_with_its_reason():
    ok, why = amx_available(ZEN3)
    assert not ok
    assert "no AMX" in why and "amx-tile" in why and "amx-int8" in why


def test_tile_unit_without_int8_is_refused():
    ok, why = amx_available({"amx-tile": True, "amx-bf16": True})
    assert not ok and "amx-int8" in why


def test_other_platforms_are_refused_before_any_syscall(monkeypatch):
    monkeypatch.setattr(permission.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(permission, "request_tile_permission",
                        lambda: pytest.fail("asked Linux for the permission on another platform"))
    ok, why = amx_available({"amx-tile": True, "amx-int8": True})
    assert not ok and "Linux x86-64" in why


def test_answer_matches_the_host_features():
    feats = permission.host_features()
    ok, why = amx_available()
    if not (feats.get("amx-tile") and feats.get("amx-int8")):
        assert not ok and "no AMX" in why
    else:
        assert ok or "kernel" in why


@needs_amx
def test_permission_is_granted_once_and_readable_back():
    first = permission.request_tile_permission()
    assert permission.request_tile_permission() is first
    # Read the permitted mask ourselves: bit 18 is the tile data state.
    libc = ctypes.CDLL(None, use_errno=True)
    mask = ctypes.c_ulong(0)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(ctypes.c_long(permission.SYS_ARCH_PRCTL),
                      ctypes.c_long(permission.ARCH_GET_XCOMP_PERM), ctypes.byref(mask))
    assert rc == 0
    assert mask.value >> permission.XFEATURE_XTILEDATA & 1
