"""Starting points: the BLIS analytical model, the ISA default and transfer, in the space."""

from __future__ import annotations

import optuna

from gemmtune.cache import Entry, TuningCache, make_provenance
from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem
from gemmtune.families import family_for
from gemmtune.kernels import model as seeds_mod
from gemmtune.kernels.model import analytical_params, register_tile
from gemmtune.search.starts import starting_points
from gemmtune.search.space import SearchSpace
from gemmtune.search.study import enqueue_starts as enqueue_seeds

ZEN3 = {1: {"size": 32 << 10, "ways": 8, "line": 64, "sets": 64},
        2: {"size": 512 << 10, "ways": 8, "line": 64, "sets": 1024},
        3: {"size": 32 << 20, "ways": 16, "line": 64, "sets": 32768}}


def test_register_tile_fits_the_file_and_hides_fma_latency():
    for lanes_, nvr in ((8, 16), (16, 32), (4, 16), (4, 32)):
        mr, nv = register_tile(lanes_, nvr)
        assert mr * nv + nv + 1 <= nvr
        assert mr * nv >= seeds_mod.L_FMA * seeds_mod.N_FMA


def test_model_on_avx2_zen3_geometry():
    p = analytical_params("float32", vec_bits=256, vector_registers=16, caches=ZEN3)
    # 4 x 3 vectors: 12 accumulators, 7 loads per 12 FMAs.
    assert (p.MR, p.NR) == (4, 24)
    # C_Ar = floor(7 / (1 + 24/4)) = 1 way: KC = 64 sets * 64 B / (4 rows * 4 B) = 256.
    assert p.KC == 256
    # (8 - 2) ways * 1024 sets * 64 B / (256 * 4 B) = 384 rows of A.
    assert p.MC == 384
    p.validate("float32")


def test_model_survives_an_implausible_l3_and_missing_levels():
    odd = dict(ZEN3)
    odd[3] = {"size": 480 << 20, "ways": 16, "line": 64, "sets": 491520}
    p = analytical_params("float32", vec_bits=256, vector_registers=16, caches=odd)
    assert p.NC <= seeds_mod.MAX_MODEL_NC and p.NC % p.NR == 0
    p.validate("float32")
    # An unreadable machine falls back to typical geometry instead of failing.
    fake = {"identity": {"isa": ["avx", "avx2", "fma"], "caches": [
        {"level": 3, "type": "Unified", "size": 480 << 20, "ways": 16, "line": 64, "sets": 491520}]}}
    q = seeds_mod.model_params("float64", fake)
    q.validate("float64")
    assert q.NC <= seeds_mod.MAX_MODEL_NC


def test_seeds_are_snapped_into_the_space_and_include_transfer(tmp_path):
    from gemmtune.fingerprint import fingerprint

    fp = fingerprint()
    space = SearchSpace.for_fingerprint("float32", 1, fp)
    cache = TuningCache(tmp_path)
    winner = KernelParams(MR=5, NR=16, MC=80, KC=128, NC=2048)
    cache.put(Entry(fp["id"], Problem(500, 500, 500), winner.to_dict(), {"gflops": 50.0}, make_provenance()))
    cache.put(Entry(fp["id"], Problem(4000, 4000, 4000), KernelParams(MR=3, NR=24, MC=96, KC=128, NC=2400).to_dict(), {"gflops": 60.0},
                    make_provenance()))
    p = Problem(512, 512, 512)
    seeds = starting_points(family_for(p), space, p, fp=fp, cache=cache, fingerprint_id=fp["id"])
    sources = [s.source for s in seeds]
    assert sources[0] == "transfer:500x500x500"  # the nearest shape comes first
    assert "model" in sources and any(s.startswith("default:") for s in sources)
    assert len({s.params.key() for s in seeds}) == len(seeds)
    for s in seeds:
        assert space.decode(space.encode(s.params)) == s.params


def test_resumed_studies_do_not_rerun_seeds():
    space = SearchSpace.for_machine("float32")
    p = Problem(256, 256, 256)
    seeds = starting_points(family_for(p), space, p)
    study = optuna.create_study(direction="maximize")
    assert enqueue_seeds(study, space, seeds) == len(seeds) >= 2
    assert enqueue_seeds(study, space, seeds) == 0
    trial = study.ask()
    space.suggest(trial)
    study.tell(trial, 1.0)
    assert enqueue_seeds(study, space, seeds) == 0


def test_a_run_enqueues_no_more_starts_than_it_measures_and_the_next_run_the_rest():
    import optuna

    from gemmtune.families import family_for
    from gemmtune.problem import Problem

    p = Problem(64, 64, 64)  # small: the cut tile, the model and the ISA default
    space = family_for(p).space(p)
    seeds = starting_points(family_for(p), space, p)
    assert len(seeds) >= 3
    study = optuna.create_study(direction="maximize")
    assert enqueue_seeds(study, space, seeds, limit=2) == 2
    for _ in range(2):
        trial = study.ask()
        space.suggest(trial)
        study.tell(trial, 1.0)
    assert enqueue_seeds(study, space, seeds, limit=2) == min(2, len(seeds) - 2)
    assert enqueue_seeds(study, space, seeds) == max(0, len(seeds) - 4)


def test_skinny_shapes_get_in_place_seeds():
    from gemmtune.kernels.params import KernelParams
    from gemmtune.problem import Problem
    from gemmtune.kernels.model import skinny_params

    base = [KernelParams()]
    tall = skinny_params(base, Problem(16, 4096, 4096, "float32", 2))
    assert [(p.pack_b, p.parallel, src) for p, src in tall] == [(False, "n", "skinny-m")]
    wide = skinny_params(base, Problem(4096, 16, 4096, "float32", 1))
    assert [(p.pack_a, p.parallel, src) for p, src in wide] == [(False, "m", "skinny-n")]
    assert skinny_params(base, Problem(1024, 1024, 1024, "float32", 1)) == []
    assert skinny_params(base, Problem(16, 48, 48, "float32", 1)) == []  # small, not skinny


def test_few_rows_or_columns_start_with_that_operand_in_place():
    from gemmtune.kernels.model import IN_PLACE_MAX_USES, in_place_params

    seed = KernelParams()
    # A ResNet-50 3x3 layer's forward GEMM: each packed element of B serves only 64 rows.
    conv = in_place_params(seed, Problem(64, 3136, 576, "float32", 2))
    assert [(p.pack_a, p.pack_b, p.parallel, src) for p, src in conv] == [
        (True, False, "m", "B in place")]
    both = in_place_params(seed, Problem(256, 196, 2304, "float32", 1))
    assert [(p.pack_a, p.pack_b, src) for p, src in both] == [
        (True, False, "B in place"), (False, True, "A in place")]
    big = IN_PLACE_MAX_USES + 1
    assert in_place_params(seed, Problem(big, big, 4096, "float32", 1)) == []
    # Rows a multiple of 4 KiB apart share L1 sets: that operand stays packed.
    assert in_place_params(seed, Problem(64, 4096, 1024, "float32", 1)) == []
    # Starting points of the search, snapped into its space, among the first few.
    p = Problem(64, 3136, 576, "float32", 1)
    seeds = starting_points(family_for(p), family_for(p).space(p), p)
    assert [s.source for s in seeds].index("B in place") < 4


def test_an_untuned_product_of_few_rows_or_columns_reads_that_operand_in_place():
    from gemmtune.defaults import default_params
    from gemmtune.kernels.model import untuned_in_place

    seed = default_params("float32")
    for threads in (1, 2):
        got = family_for(Problem(64, 3136, 576, "float32", threads)).default_params(
            Problem(64, 3136, 576, "float32", threads))
        assert got == seed.replace(pack_b=False, parallel="m")
    # Skinny rows, many rows and columns, B's rows 4 KiB apart (L1 set aliasing), too few
    # columns for B's tiles, a stack, and an explicit ISA keep the seed.
    for m, n in ((16, 3136), (256, 3136), (64, 4096), (64, 40)):
        assert untuned_in_place(seed, Problem(m, n, 576, "float32", 1)) == seed
    # Few columns (a ResNet-50 layer-4 GEMM): A in place, whatever A's row stride.
    for k in (4608, 1024):
        got = untuned_in_place(seed, Problem(512, 49, k, "float32", 2))
        assert got == seed.replace(pack_a=False, parallel="m")
    stack = Problem(64, 3136, 576, "float32", 1, batch=2)
    assert family_for(stack).default_params(stack).pack_b
    assert family_for(stack).default_params(Problem(64, 3136, 576), "avx2") == default_params(
        "float32", "avx2")
