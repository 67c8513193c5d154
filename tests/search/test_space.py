"""The search space: multipliers in, valid kernels out, invalid points rejected early."""

from __future__ import annotations

import optuna
import pytest

from gemmtune.kernels.params import KernelParams, lanes
from gemmtune.search.space import ChoiceDim, IntDim, Rejected, SearchSpace


def small_space() -> SearchSpace:
    dims = [IntDim("mr", 2, 7), IntDim("nr_vecs", 1, 3), IntDim("mc_mult", 8, 32, step=8),
            IntDim("kc_mult", 4, 16, step=4), IntDim("nc_mult", 256, 256),
            ChoiceDim("unroll", (4,)), ChoiceDim("prefetch", (0,)), ChoiceDim("parallel", ("ic",)),
            ChoiceDim("vec_bits", (256,))]
    return SearchSpace("float32", 16, 32, {d.name: d for d in dims})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("widths,nvr", [((256,), 16), ((256, 512), 32)])
def test_every_decoded_point_is_a_valid_kernel_within_the_register_file(dtype, widths, nvr):
    space = SearchSpace.for_machine(dtype, vec_widths=widths, vector_registers=nvr, threads=2)
    sampler = optuna.samplers.RandomSampler(seed=1)
    study = optuna.create_study(sampler=sampler)
    ok = rejected = 0
    for _ in range(300):
        trial = study.ask()
        try:
            p = space.suggest(trial)
        except Rejected as e:
            rejected += 1
            assert str(e)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        ok += 1
        p.validate(dtype)
        nv = p.NR // lanes(p.vec_bits, dtype)
        assert p.MR * nv + nv + 1 <= nvr
        assert p.MC % p.MR == 0 and p.NC % p.NR == 0 and p.KC % space.kc_step == 0
        assert p.vec_bits in widths
        study.tell(trial, 1.0)
    assert ok > 50 and rejected > 0


def test_every_trial_suggests_the_same_distributions():
    space = SearchSpace.for_machine("float32", threads=2)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        try:
            space.suggest(trial)
        except Rejected:
            pass
        seen.add(tuple(sorted((k, repr(v)) for k, v in trial.distributions.items())))
        study.tell(trial, 0.0)
    assert len(seen) == 1


def test_the_space_adapts_to_the_machine_and_threads():
    avx2 = SearchSpace.for_machine("float32", vec_widths=(256,), vector_registers=16, threads=1)
    avx512 = SearchSpace.for_machine("float32", vec_widths=(256, 512), vector_registers=32, threads=2)
    assert avx2.dims["vec_bits"].values() == [256] and "vec_bits" not in avx2.grid()
    assert avx512.dims["vec_bits"].values() == [256, 512]
    # One thread runs the serial kernel; more search how threads share the work.
    assert "parallel" not in avx2.grid() and avx2.dims["parallel"].values() == ["m"]
    assert avx512.grid()["parallel"] == ["ic", "jr", "m", "n"]
    assert avx2.grid()["pack_a"] == [True, False]
    assert avx512.dims["mr"].high > avx2.dims["mr"].high


def test_over_budget_tiles_are_rejected_before_compiling():
    space = small_space()
    with pytest.raises(Rejected, match="vector registers"):
        space.decode({"mr": 7, "nr_vecs": 2, "mc_mult": 8, "kc_mult": 4})
    assert space.decode({"mr": 6, "nr_vecs": 2, "mc_mult": 16, "kc_mult": 8}) == KernelParams(
        MR=6, NR=16, MC=96, KC=256, NC=4096)


def test_encode_decode_round_trips_every_valid_point():
    space = small_space()
    points = list(space.valid_points())
    assert len(points) == 224 and space.size() == 288
    for point, params in points:
        assert space.encode(params) == point


@pytest.mark.parametrize("params", [KernelParams(), KernelParams(MR=14, NR=32, MC=168, KC=192, NC=4096, vec_bits=512),
                                    KernelParams(MR=31, NR=8, MC=31, KC=8000, NC=8, unroll=3)])
def test_snap_always_lands_on_a_valid_point(params):
    for space in (small_space(), SearchSpace.for_machine("float32")):
        snapped = space.snap(params)
        snapped.validate("float32")
        assert space.decode(space.encode(snapped)) == snapped


def test_space_serialises():
    space = SearchSpace.for_machine("float64", vec_widths=(256, 512), vector_registers=32, threads=2)
    assert SearchSpace.from_dict(space.to_dict()) == space
