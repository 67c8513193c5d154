"""``gemmtune.peak``: the FMA peak loop, the triad bandwidth, and their memo per fingerprint."""

from __future__ import annotations

import json

import pytest

from gemmtune import peak
from gemmtune.fingerprint import fingerprint, fingerprint_id, vector_bits


# Timings and CPU shares judged here need the cores to themselves (tests/conftest.py).
pytestmark = pytest.mark.quiet_cores


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
    if first["busy"]:   # a figure of a busy machine is measured again (peak.keep)
        assert again["gflops"] >= first["gflops"] or not again["busy"]
    else:
        assert again["memoized"] is True and again["gflops"] == first["gflops"]

    fresh = peak.peak("float32", 1, tmp_path, remeasure=True)
    # Measured again; remembered unless it is a lower figure of a busy machine (peak.keep).
    assert fresh["memoized"] is False or "remeasured_lower" in fresh
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
    again = peak.bandwidth(1, tmp_path)
    if first["busy"]:   # measured again (peak.keep): the better of the two is remembered
        assert again["gbs"] >= first["gbs"] or not again["busy"]
    else:
        assert again["memoized"] is True and again["gbs"] == first["gbs"]


def test_roofline_is_the_lower_of_peak_and_bandwidth_bound():
    # 2 GFLOP over 1 GB at 10 GB/s: 20 GFLOP/s attainable, below a 100 GFLOP/s peak.
    assert peak.roofline(2e9, 1e9, 100.0, 10.0) == pytest.approx(20.0)
    assert peak.roofline(2e12, 1e9, 100.0, 10.0) == 100.0
    assert peak.roofline(2e9, 1e9, 100.0, None) == 100.0


def _fig(gflops: float, busy: bool) -> dict:
    return {"gflops": gflops, "busy": busy, "cpu_share": 0.4 if busy else 1.0}


def test_keep_prefers_quiet_and_higher_figures():
    busy, quiet, quiet_low = _fig(151.0, True), _fig(508.0, False), _fig(480.0, False)
    assert peak.keep(None, busy, "gflops") is busy
    assert peak.keep(busy, quiet, "gflops") is quiet          # a quiet figure replaces a busy one
    assert peak.keep(quiet, busy, "gflops") is quiet          # ... and a busy one never a higher quiet
    assert peak.keep(busy, _fig(160.0, True), "gflops")["gflops"] == 160.0   # higher busy: closer
    assert peak.keep(quiet, quiet_low, "gflops") is quiet     # a ceiling only goes up
    assert peak.keep(quiet_low, _fig(600.0, True), "gflops")["gflops"] == 600.0


def test_a_peak_measured_under_load_is_not_remembered_as_the_machines(tmp_path, monkeypatch):
    # The fault of the issue: a 2-thread peak of 151 stored under load (quiet: 508).
    figures = iter([_fig(151.0, True), _fig(508.0, False), _fig(150.0, True)])
    calls = []

    def fake(dtype, threads):
        calls.append(threads)
        return dict(next(figures))

    monkeypatch.setattr(peak, "measure_peak", fake)
    first = peak.peak("float64", 2, tmp_path)
    assert first["gflops"] == 151.0 and first["busy"] is True
    # Asked again, the busy figure is measured again, and the quiet one replaces it.
    second = peak.peak("float64", 2, tmp_path)
    assert len(calls) == 2 and second["gflops"] == 508.0 and second["memoized"] is False
    # A quiet figure is then the machine's: used as it is, and a busy re-measurement is lower.
    assert peak.peak("float64", 2, tmp_path)["memoized"] is True and len(calls) == 2
    third = peak.peak("float64", 2, tmp_path, remeasure=True)
    assert third["gflops"] == 508.0 and third["remeasured_lower"] == 150.0
    stored = json.loads((tmp_path / "peak.json").read_text())["fingerprints"][fingerprint_id()]
    assert stored["float64"]["2"]["gflops"] == 508.0 and stored["float64"]["2"]["busy"] is False


def test_a_peak_measured_beside_a_busy_loop_says_it_was_busy():
    from .burner import burning

    with burning():
        fig = peak.measure_peak("float64", 1, samples=3)
    assert fig["busy"] is True and fig["cpu_share"] < 0.8
