"""The hardware fingerprint: stable, sensitive to what matters, robust to odd sysfs readings."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gemmtune import fingerprint as fpmod
from gemmtune.fingerprint import (cache_level, compute_id, fingerprint, isa_family, isa_features,
                                  read_caches, vector_bits, vector_registers)

IDENTITY_KEYS = {"arch", "cpu_name", "isa", "caches", "cores", "numba", "llvmlite", "llvm",
                 "generator"}


def test_shape_and_id():
    fp = fingerprint()
    assert set(fp) == {"id", "identity", "recorded"}
    assert re.fullmatch(r"[0-9a-f]{12}", fp["id"])
    assert set(fp["identity"]) == IDENTITY_KEYS
    assert {"numpy", "blas", "brand", "hostname"} <= set(fp["recorded"])
    assert compute_id(fp["identity"]) == fp["id"]
    assert fp["identity"]["isa"] == sorted(fp["identity"]["isa"])
    assert fp["identity"]["cores"] >= 1
    json.dumps(fp)  # all of it is plain JSON


def test_memoised_and_copied():
    a = fingerprint()
    a["identity"]["isa"].append("tampered")
    assert "tampered" not in fingerprint()["identity"]["isa"]
    assert fingerprint()["id"] == fingerprint(refresh=True)["id"]


def test_stable_across_processes():
    code = "from gemmtune.fingerprint import fingerprint; print(fingerprint()['id'])"
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() for _ in range(2)}
    assert ids == {fingerprint()["id"]}


def test_id_follows_identity_only():
    ident = fingerprint()["identity"]
    base = compute_id(ident)
    assert compute_id(dict(reversed(list(ident.items())))) == base  # key order is irrelevant
    more_isa = copy.deepcopy(ident)
    more_isa["isa"] = sorted(ident["isa"] + ["avx512f"])
    assert compute_id(more_isa) != base
    new_generator = dict(ident, generator="000000000000")
    assert compute_id(new_generator) != base
    other_caches = copy.deepcopy(ident)
    other_caches["caches"] = []
    assert compute_id(other_caches) != base


def test_recorded_fields_are_not_hashed():
    fp = fingerprint()
    assert compute_id(fp["identity"]) == fp["id"]
    assert "hostname" not in fp["identity"] and "brand" not in fp["identity"]


def test_isa_features_keeps_kernel_relevant_enabled_flags():
    features = {"avx2": True, "avx512f": False, "fma": True, "fma4": True, "sse4.2": True,
                "sse4a": True, "ssse3": True, "f16c": True, "amx-tile": True, "neon": True,
                "sve2": True, "popcnt": True, "aes": True, "cx16": True}
    assert isa_features(features) == ["amx-tile", "avx2", "f16c", "fma", "neon", "sse4.2",
                                       "sse4a", "ssse3", "sve2"]


@pytest.mark.parametrize("arch, isa, family, bits, regs", [
    ("x86_64", ["avx", "avx2", "avx512f", "fma"], "avx512", 512, 32),
    ("x86_64", ["avx", "avx2", "fma", "sse2"], "avx2", 256, 16),
    ("x86_64", ["avx", "sse2"], "generic", 256, 16),
    ("x86_64", ["sse2"], "generic", 128, 16),
    ("aarch64", ["neon"], "neon", 128, 32),
    ("aarch64", [], "neon", 128, 32),
    ("riscv64", [], "generic", 128, 16),
])
def test_isa_views(arch, isa, family, bits, regs):
    ident = {"arch": arch, "isa": isa}
    fp = {"id": "x", "identity": ident, "recorded": {}}
    assert isa_family(fp) == isa_family(ident) == family
    assert vector_bits(fp) == bits
    assert vector_registers(fp) == regs


def test_this_machine_views_are_consistent():
    fp = fingerprint()
    assert isa_family() == isa_family(fp) in ("avx512", "avx2", "neon", "generic")
    assert vector_bits() in (128, 256, 512)
    assert vector_registers() in (16, 32)
    l1 = cache_level(None, 1)
    if l1 is not None:  # the machine reports its L1 data cache
        assert l1["type"] == "Data" and l1["size"] > 0 and l1["ways"] > 0


def _fake_cache(root: Path, index: int, **files: str) -> None:
    d = root / "cache" / f"index{index}"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text + "\n")


def _geometry(level, type_, size, ways, line="64", sets=None):
    out = {"level": str(level), "type": type_, "size": size, "ways_of_associativity": ways,
           "coherency_line_size": line}
    if sets is not None:
        out["number_of_sets"] = sets
    return out


def test_read_caches_parses_sysfs(tmp_path):
    _fake_cache(tmp_path, 0, **_geometry(1, "Data", "32K", "8", sets="64"))
    _fake_cache(tmp_path, 1, **_geometry(1, "Instruction", "32K", "8", sets="64"))
    _fake_cache(tmp_path, 2, **_geometry(2, "Unified", "512K", "8", sets="1024"))
    _fake_cache(tmp_path, 10, **_geometry(3, "Unified", "32M", "16", sets="32768"))
    caches = read_caches(tmp_path)
    assert [(c["level"], c["type"]) for c in caches] == [
        (1, "Data"), (1, "Instruction"), (2, "Unified"), (3, "Unified")]
    assert caches[0] == {"level": 1, "type": "Data", "size": 32768, "ways": 8, "line": 64,
                         "sets": 64}
    fp = {"identity": {"caches": caches}}
    assert cache_level(fp, 3)["size"] == 32 * 1024**2
    assert cache_level(fp, 1)["type"] == "Data"  # never the instruction cache
    assert cache_level(fp, 4) is None


def test_missing_cache_dir_gives_empty_list(tmp_path):
    assert read_caches(tmp_path / "nope") == []
    assert cache_level({"identity": {"caches": []}}, 1) is None


def test_odd_readings_do_not_crash(tmp_path):
    _fake_cache(tmp_path, 0, **_geometry(1, "Data", "lots", "eight", sets="-"))
    _fake_cache(tmp_path, 1, **_geometry(2, "Unified", "512K", "0", sets="1024"))  # ways 0
    _fake_cache(tmp_path, 2, **_geometry(3, "Unified", "491520K", "16"))  # no sets file
    _fake_cache(tmp_path, 3, level="x")  # unusable index: dropped
    (tmp_path / "cache" / "index9").mkdir()  # empty index: dropped
    caches = read_caches(tmp_path)
    assert [c["level"] for c in caches] == [1, 2, 3]
    assert caches[0]["size"] is None and caches[0]["ways"] is None
    fp = {"identity": {"caches": caches}}
    assert cache_level(fp, 1) is None  # nothing to derive the geometry from
    assert cache_level(fp, 2)["ways"] == 8  # derived: 512K / (1024 sets * 64 B)
    l3 = cache_level(fp, 3)  # implausibly large, but consistent: reported as read
    assert l3["size"] == 491520 * 1024 and l3["sets"] == 491520 * 1024 // (16 * 64)


def test_fingerprint_survives_missing_sysfs(monkeypatch, tmp_path):
    monkeypatch.setattr(fpmod, "SYSFS_CPU", tmp_path / "none")
    fp = fingerprint(refresh=True)
    try:
        assert fp["identity"]["caches"] == []
        assert compute_id(fp["identity"]) == fp["id"]
    finally:
        monkeypatch.undo()
        fingerprint(refresh=True)
