"""bench's tuned figure is what a user's loop gets: ``gemmtune.matmul`` right after numpy's ``@``."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from gemmtune.bench.run import Workload, compare
from gemmtune.cache import Entry, TuningCache, make_provenance
from gemmtune.defaults import default_params
from gemmtune.fingerprint import fingerprint_id
from gemmtune.measure import iqr, pinned_threads
from gemmtune.problem import Problem
from tests.conftest import with_session_kernels

N = 64


def user_loop_gflops(root, calls: int = 400, rounds: int = 5) -> float:
    """The loop users write: numpy's product, then gemmtune's, each gemmtune call timed."""
    import gemmtune

    rng = np.random.default_rng(1)
    A = rng.standard_normal((N, N)).astype("float32")
    B = rng.standard_normal((N, N)).astype("float32")
    C1, C2 = np.empty((N, N), "float32"), np.empty((N, N), "float32")
    gemmtune.matmul(A, B, out=C2, threads=1, cache_dir=root)
    per_round = []
    with pinned_threads(1):
        for _ in range(rounds):
            took = 0.0
            for _ in range(calls):
                np.matmul(A, B, out=C1)
                t0 = time.perf_counter()
                gemmtune.matmul(A, B, out=C2, threads=1, cache_dir=root)
                took += time.perf_counter() - t0
            per_round.append(2.0 * N**3 * calls / took / 1e9)
    return statistics.median(per_round)


@pytest.mark.quiet_cores
def test_bench_and_a_loop_alternating_numpy_and_gemmtune_agree(tmp_path, compiled_root):
    with_session_kernels(tmp_path, compiled_root)
    tuned = default_params("float32")
    tuned = type(tuned).from_dict({**tuned.to_dict(), "KC": 128})
    TuningCache(tmp_path).put(Entry(fingerprint_id(), Problem(N, N, N, "float32", 1), tuned.to_dict(),
                                    {"gflops": 1.0}, make_provenance(sampler="test")))
    # The machine is shared and its load moves within seconds: bench and the loop run in
    # alternation, seven times each, and their medians are compared.
    bench, loop, alone = [], [], []
    for _ in range(7):
        row = compare(Workload(str(N), N, N, N), "float32", 1, tmp_path, rounds=3, sample_seconds=0.05)
        assert row["tuned"]["source"] == "exact" and row["tuned"]["timed"].startswith("gemmtune.matmul")
        bench.append(row["tuned"]["gflops"])
        alone.append(row["tuned"]["kernel"]["gflops"])   # the kernel alone, reported beside it
        loop.append(user_loop_gflops(tmp_path, rounds=3))
    ratio = statistics.median(bench) / statistics.median(loop)
    # Within 10%; on a machine whose load moves the loop's own figure by more than that, within
    # twice the loop's own relative spread (IQR over median) across the seven runs.
    spread = iqr(loop) / statistics.median(loop)
    print(f"bench tuned {statistics.median(bench):.2f}, kernel alone {statistics.median(alone):.2f}, "
          f"loop {statistics.median(loop):.2f} GFLOP/s, loop spread {100 * spread:.0f}%")
    assert abs(ratio - 1.0) <= max(0.10, 2 * spread), f"bench {bench} against the loop {loop}"


# -- stacks, layers and the onnxruntime peer (1 round, one call per sample) ------------------

FAST = dict(rounds=1, sample_seconds=0.0)


@pytest.fixture
def untuned(compiled_root, tmp_path):
    """A cache dir with no tuning that shares the session's compiled kernels."""
    root = tmp_path / "cache"
    (compiled_root / "kernels").mkdir(parents=True, exist_ok=True)
    root.mkdir()
    (root / "kernels").symlink_to(compiled_root / "kernels", target_is_directory=True)
    return root


def test_a_stack_is_timed_against_numpys_stacked_matmul(untuned, monkeypatch):
    from gemmtune.bench.run import Peers

    seen = []
    real = np.matmul

    def recording(A, B, *args, **kw):
        seen.append((A.shape, B.shape))
        return real(A, B, *args, **kw)

    monkeypatch.setattr(np, "matmul", recording)
    row = compare(Workload("s", 12, 10, 8, batch=5), "float32", 1, untuned, peers=Peers(), **FAST)
    assert row["problem"] == {"m": 12, "n": 10, "k": 8, "dtype": "float32", "threads": 1, "batch": 5}
    assert row["flops"] == 2 * 5 * 12 * 10 * 8
    # numpy's figure is one stacked @ of the (5, 12, 8) and (5, 8, 10) operands, checked first.
    assert seen and set(seen) == {((5, 12, 8), (5, 8, 10))}
    assert row["numpy"]["check"]["status"] == "PASS"
    assert row["default"]["check"]["status"] == "PASS" and row["default"]["label"]
    assert row["tuned"] is None   # nothing tuned for the stack or its product
    # A tuning of the product shape alone is what matmul runs on the stack: "product".
    params = {**row["default"]["params"], "unroll": 2}
    TuningCache(untuned).put(Entry(fingerprint_id(), Problem(12, 10, 8, "float32", 1), params,
                                   {"gflops": 1.0}, make_provenance(sampler="test")))
    row = compare(Workload("s", 12, 10, 8, batch=5), "float32", 1, untuned, peers=Peers(), **FAST)
    assert row["tuned"]["source"] == "product" and row["tuned"]["tuned_problem"]["k"] == 8
    assert row["tuned"]["params"]["unroll"] == 2 and row["tuned"]["check"]["status"] == "PASS"


def test_a_layer_row(untuned):
    from gemmtune.bench.run import Peers
    from gemmtune.conv import ConvSpec

    spec = ConvSpec.parse("1,3,9,9,4,3,3,2,1")
    row = compare(Workload.layer("l", spec), "float32", 1, untuned, peers=Peers(), **FAST)
    assert row["problem"]["op"] == "conv2d" and row["problem"]["conv"] == spec.to_dict()
    assert row["flops"] == spec.flops() == 2 * 1 * 4 * 5 * 5 * 3 * 3 * 3
    fig = row["default"]
    assert fig["label"] == "conv2d" and fig["check"]["status"] == "PASS"
    assert [g["source"] for g in fig["gemms"]] == ["default"] * len(spec.gemms("forward"))
    assert row["numpy"]["check"]["status"] == "PASS" and row["gemmtune_vs_numpy"] > 0


def test_onnxruntime_column_or_one_note_when_absent(untuned, monkeypatch):
    import sys

    from gemmtune.bench import peers as peer_module
    from gemmtune.bench.run import Peers

    w = Workload("8", 8, 8, 8)
    if peer_module.onnxruntime_version() is not None:
        row = compare(w, "float32", 1, untuned, peers=Peers(), **FAST)
        assert row["onnxruntime"]["check"]["status"] == "PASS" and row["gemmtune_vs_onnxruntime"] > 0
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    notes: list[str] = []
    peers = Peers(notes.append)
    rows = [compare(x, "float32", 1, untuned, peers=peers, **FAST)
            for x in (w, Workload("s", 8, 8, 8, batch=2))]
    assert all("onnxruntime" not in r and "gemmtune_vs_onnxruntime" not in r for r in rows)
    assert notes == [peer_module.missing_note()] and "gemmtune[peers]" in notes[0]


def test_a_gemv_stack_is_judged_against_the_bandwidth(untuned):
    from gemmtune.bench.run import Peers

    # 32 products of (1 x 256) @ (256 x 64): 2 flops per 4-byte element of B, far below
    # what a 100 GFLOP/s core needs from 10 GB/s.
    row = compare(Workload("decode", 1, 64, 256, batch=32), "float32", 1, untuned, peers=Peers(),
                  peak_gflops=100.0, bandwidth_gbs=10.0, **FAST)
    assert row["default"]["label"] == "gemv" and row["tuned"] is None
    assert row["memory_bound"] and row["ceiling_gflops"] < 10.0
    assert row["percent_of_ceiling"] == pytest.approx(100 * row["default"]["gflops"] / row["ceiling_gflops"])
    assert row["achieved_gbs"] == pytest.approx(
        row["default"]["gflops"] * 32 * (256 + 256 * 64 + 64) * 4 / row["flops"])


# -- integer pairs: GOP/s, exact checks, numpy's two idioms ----------------------------------

def test_an_integer_row_checks_every_contender_for_equality(untuned):
    from gemmtune.bench.peers import onnxruntime_version
    from gemmtune.bench.run import Peers

    peers = Peers()
    row = compare(Workload("32", 32, 32, 32), "u8s8", 1, untuned, peers=peers, **FAST)
    assert row["problem"]["dtype"] == "u8s8" and row["unit"] == "GOP/s" and row["flops"] == 2 * 32**3
    assert row["family"] in ("amx-int8", "numba-int8")
    ran = {"numpy", "numpy_int", "default"}
    if onnxruntime_version():
        # Present only when exact: on AVX2 without VNNI its u8s8 kernel saturates (vpmaddubsw)
        # on full-range operands, and the row leaves it out with a note saying so.
        if "onnxruntime" in row:
            ran.add("onnxruntime")
        else:
            assert any("MatMulInteger gave a wrong result" in n for n in peers.notes), peers.notes
    for role in ran:
        assert row[role]["check"] == {"status": "PASS", "residual": 0.0} and row[role]["gflops"] > 0
    assert row["f32_exact"] and row["f32_exact_max_k"] == 514 and row["numpy"]["inexact"] is False
    # No integer peak is measured: no share of the float FMA peak either.
    assert row["peak_gflops"] is None and row["default"]["percent_of_peak"] is None
    assert row["tuned"] is None and row["gemmtune_vs_numpy_int"] > 0


def test_float32_past_its_exact_k_is_timed_unchecked_and_marked(untuned):
    from gemmtune.bench.run import Peers

    row = compare(Workload("k", 16, 16, 600), "u8s8", 1, untuned, peers=Peers(), **FAST)
    assert not row["f32_exact"] and row["numpy"]["inexact"] is True and row["numpy"]["check"] is None
    assert row["numpy"]["gflops"] > 0
    assert row["numpy_int"]["check"]["status"] == row["default"]["check"]["status"] == "PASS"


def test_one_wrong_element_of_an_integer_kernel_stops_the_row(untuned, monkeypatch):
    from gemmtune.bench import run
    from gemmtune.errors import GemmtuneError

    real = run._Kernels.get

    def off_by_one(self, family, params, problem):
        kernel = real(self, family, params, problem)

        def wrong(A, B, out, **kw):
            kernel(A, B, out, **kw)
            out[3, 5] += 1   # a residual check with any tolerance would let this pass
        return wrong

    monkeypatch.setattr(run._Kernels, "get", off_by_one)
    with pytest.raises(GemmtuneError, match=r"the default kernel .* 1 wrong elements, first at \(3, 5\)"):
        compare(Workload("32", 32, 32, 32), "u8s8", 1, untuned, peers=run.Peers(), **FAST)


def test_absent_integer_peers_give_one_note_each(untuned, monkeypatch):
    import sys

    from gemmtune.bench import integer, peers as peer_module
    from gemmtune.bench.run import Peers

    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # not installed, in this process
    monkeypatch.setattr(integer, "NUMPY_INT_MAX", 16)      # 32^3 is then past numpy int's limit
    notes: list[str] = []
    peers = Peers(notes.append)
    rows = [compare(Workload("32", 32, 32, 32), pair, 1, untuned, peers=peers, **FAST)
            for pair in ("u8s8", "u8s8")]
    assert all("onnxruntime" not in r and "numpy_int" not in r for r in rows)
    assert rows[0]["numpy"]["check"]["status"] == "PASS"
    assert notes == [peer_module.missing_note(), integer.numpy_int_note("32x32x32", 16)]


def test_an_integer_stack_runs_its_products_and_their_tuning(untuned):
    from gemmtune.bench.run import Peers
    from gemmtune.conv import ConvSpec

    w = Workload("s", 12, 10, 8, batch=5)
    row = compare(w, "u8s8", 1, untuned, peers=Peers(), **FAST)
    assert row["problem"] == {"m": 12, "n": 10, "k": 8, "dtype": "u8s8", "threads": 1, "batch": 5}
    assert row["flops"] == 2 * 5 * 12 * 10 * 8 and row["unit"] == "GOP/s" and row["tuned"] is None
    for role in ("numpy", "numpy_int", "default"):
        assert row[role]["check"]["status"] == "PASS"
    # matmul runs each product with the 2-D product's tuning: the stack's "product" source.
    product = Problem(12, 10, 8, "u8s8", 1)
    params = {**row["default"]["params"], "unroll": 1 if row["default"]["params"]["unroll"] != 1 else 2}
    TuningCache(untuned).put(Entry(fingerprint_id(), product, params, {"gflops": 1.0},
                                   make_provenance(sampler="test")))
    row = compare(w, "u8s8", 1, untuned, peers=Peers(), **FAST)
    assert row["tuned"]["source"] == "product" and row["tuned"]["tuned_problem"]["k"] == 8
    assert row["tuned"]["check"]["status"] == row["tuned"]["kernel"]["check"]["status"] == "PASS"
    with pytest.raises(ValueError, match="no integer convolution"):
        compare(Workload.layer("l", ConvSpec.parse("1,3,9,9,4,3,3,1,1")), "u8s8", 1, untuned, **FAST)
