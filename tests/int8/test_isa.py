"""ISA selection from feature sets: what a Zen 3, an AVX-VNNI client and this CPU may run."""

from __future__ import annotations

import pytest

from gemmtune.int8 import Int8SearchSpace, available_isas, compile_int8, default_params
from gemmtune.int8 import isa as isa_mod
from gemmtune.int8.params import Int8Params

ZEN3 = {"sse4.2": True, "avx": True, "avx2": True, "fma": True, "avx512f": False, "avx512vnni": False,
        "avxvnni": False, "amx-int8": False}
ALDER_LAKE = {**ZEN3, "avxvnni": True}
ICELAKE_SERVER = {**ZEN3, "avx512f": True, "avx512bw": True, "avx512vl": True, "avx512vnni": True}
OLD = {"sse2": True}


@pytest.mark.parametrize("features, isas", [
    (ZEN3, ("avx2", "generic")),
    (ALDER_LAKE, ("vnni256", "avx2", "generic")),
    (ICELAKE_SERVER, ("vnni512", "vnni256", "avx2", "generic")),
    (OLD, ("generic",)),
    ({}, ("generic",)),
])
def test_available_isas_follow_the_features(features, isas):
    assert available_isas(features) == isas


@pytest.mark.parametrize("features, isa, nr", [
    (ZEN3, "avx2", 16), (ALDER_LAKE, "vnni256", 16), (ICELAKE_SERVER, "vnni512", 32), (OLD, "generic", 8)])
def test_default_params_use_the_best_isa_present(features, isa, nr):
    for pair in ("u8s8", "s8u8"):
        p = default_params(pair, features)
        assert (p.isa, p.NR) == (isa, nr)
        assert p.problems(pair) == []


def test_the_space_offers_only_what_the_features_allow():
    space = Int8SearchSpace.for_machine("u8s8", 1, ZEN3)
    assert space.dims["isa"].values() == ["avx2", "generic"]
    assert space.registers["avx2"] == 16  # no AVX-512: 16 ymm registers


def test_a_missing_isa_is_refused_before_anything_compiles(monkeypatch, tmp_path):
    # On a CPU without VNNI the kernel must be refused with a sentence, never compiled:
    # LLVM would abort the whole process ("Cannot select").
    monkeypatch.setattr(isa_mod, "host_features", lambda: dict(ZEN3))
    p = default_params("u8s8", ICELAKE_SERVER)
    with pytest.raises(ValueError, match="cannot run the vnni512 integer kernel"):
        compile_int8(p, "u8s8", tmp_path)
    assert not any(tmp_path.rglob("*.py")), "no module may be generated for a missing ISA"
    with pytest.raises(ValueError, match="unknown integer kernel ISA"):
        isa_mod.require_isa("amx")


def test_a_registered_core_joins_as_an_isa():
    core = isa_mod.RawCore("fakeamx", requires=("amx-int8",), build=lambda p, pair: None, rank=-1)
    isa_mod.register_core(core)
    try:
        assert available_isas({**ICELAKE_SERVER, "amx-int8": True})[0] == "fakeamx"
        assert "fakeamx" not in available_isas(ICELAKE_SERVER)
        assert Int8Params(MR=16, NR=16, MC=16, KC=64, NC=16, isa="fakeamx").problems("u8s8") == []
        with pytest.raises(ValueError, match="generated ISA"):
            isa_mod.register_core(isa_mod.RawCore("avx2", (), build=lambda p, pair: None))
    finally:
        isa_mod.unregister_core("fakeamx")
    assert "fakeamx" not in isa_mod.known_isas()
