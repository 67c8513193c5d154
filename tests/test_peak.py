"""``gemmtune.peak``: the FMA peak loop, the triad bandwidth, and their memo per fingerprint."""

from __future__ import annotations

import json

import pytest

from gemmtune import peak
from gemmtune.fingerprint import fingerprint, fingerprint_id, vector_bits


@pytest.mark.parametrize("dtype", ["float32", "f64"])
def test_measure_peak_reports_a_positive_figure_and_its_setup(dtype):
    fig = peak.measure_peak(dtype, 1, samples=2)
    assert fig["gflops"] > 0 and fig["per_core_gflops"] == fig["gflops"]
    assert fig["threads"] == 1
    assert fig["vector_bits"] == vector_bits()
    assert fig["lanes"] == vector_bits() // (32 if dtype == "float32" else 64)
    assert fig["accumulators"] >= 8   # enough chains to hide the FMA latency
    assert len(fig["samples_seconds"]) == 2 and all(s > 0 for s in fig["samples_seconds"])
    assert isinstance(fig["unstable"], bool)


def test_peak_without_fma_unit_uses_multiply_add():
    # A machine with AVX but no FMA: the loop is emitted as fmul + fadd and still counts 2 flops.
    fp = fingerprint()
    fp["identity"]["isa"] = [f for f in fp["identity"]["isa"] if f != "fma"]
    fig = peak.measure_peak("float32", 1, samples=1, fp=fp)
    assert fig["fma"] is False and fig["gflops"] > 0


def test_vector_shape_follows_the_fingerprint():
    wide = {"identity": {"isa": ["avx", "avx2", "avx512f", "fma"], "arch": "x86_64"}}
    assert peak._vector_shape("float32", wide) == (512, 16, 16, True)
    assert peak._vector_shape("float64", wide) == (512, 8, 16, True)
    old = {"identity": {"isa": ["sse", "sse2"], "arch": "x86_64"}}
    assert peak._vector_shape("float64", old) == (128, 2, 12, False)


def test_peak_is_memoized_per_fingerprint(tmp_path):
    first = peak.peak("float32", 1, tmp_path)
    assert first["memoized"] is False and first["gflops"] > 0
    doc = json.loads((tmp_path / "peak.json").read_text())
    assert doc["schema_version"] == peak.SCHEMA_VERSION
    stored = doc["fingerprints"][fingerprint_id()]["float32"]["1"]
    assert stored["gflops"] == first["gflops"] and "measured_at" in stored

    again = peak.peak("float32", 1, tmp_path)
    assert again["memoized"] is True and again["gflops"] == first["gflops"]

    fresh = peak.peak("float32", 1, tmp_path, remeasure=True)
    assert fresh["memoized"] is False
    assert json.loads((tmp_path / "peak.json").read_text())["fingerprints"][fingerprint_id()][
        "float32"]["1"]["measured_at"] == fresh["measured_at"]


def test_a_corrupt_memo_is_measured_again_and_replaced(tmp_path):
    (tmp_path / "peak.json").write_text("{not json")
    fig = peak.peak("float64", 1, tmp_path)
    assert fig["memoized"] is False
    assert json.loads((tmp_path / "peak.json").read_text())["fingerprints"]


def test_an_unwritable_memo_does_not_stop_the_measurement(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    fig = peak.peak("float32", 1, blocker / "cache")   # its parent is a file
    assert fig["gflops"] > 0 and fig["memoized"] is False


def test_bandwidth_and_its_memo(tmp_path):
    fig = peak.measure_bandwidth(1, nbytes=3 << 20, samples=2)
    assert fig["gbs"] > 0 and fig["bytes"] == 24 * ((3 << 20) // 24)
    first = peak.bandwidth(1, tmp_path)
    assert first["memoized"] is False
    assert peak.bandwidth(1, tmp_path)["gbs"] == first["gbs"]


def test_roofline_is_the_lower_of_peak_and_bandwidth_bound():
    # 2 GFLOP over 1 GB at 10 GB/s: 20 GFLOP/s attainable, below a 100 GFLOP/s peak.
    assert peak.roofline(2e9, 1e9, 100.0, 10.0) == pytest.approx(20.0)
    assert peak.roofline(2e12, 1e9, 100.0, 10.0) == 100.0
    assert peak.roofline(2e9, 1e9, 100.0, None) == 100.0
