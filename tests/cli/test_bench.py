"""``gemmtune bench``: the JSON document, the CSV, the plots, and bad input.

Measuring runs on tiny sizes with few, short rounds; one cache dir is shared by the module so
the default and the one tuned kernel are compiled once.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gemmtune.cache import Entry, TuningCache, make_provenance
from gemmtune.cli import cli
from gemmtune.fingerprint import fingerprint, fingerprint_id, usable_cores
from gemmtune.defaults import default_params
from tests.conftest import with_session_kernels
from tests.factories import make_entry

FAST = ("--rounds", "2", "--sample-seconds", "0.002", "--no-bandwidth")
TUNED = dict(MR=4, NR=16, MC=32, KC=64, NC=128, vec_bits=256, unroll=2, prefetch=0, parallel="ic")


@pytest.fixture(scope="module")
def root(tmp_path_factory, compiled_root) -> Path:
    """A cache dir with one tuning (32x32x32 float32, 1 thread) that differs from the default,
    and the session's compiled kernels."""
    root = with_session_kernels(tmp_path_factory.mktemp("bench-cache"), compiled_root)
    entry = make_entry(fingerprint_id(), 32, 32, 32, "float32", 1, **TUNED)
    assert entry.kernel_params != default_params("float32")
    TuningCache(root).put(entry)
    return root


def invoke(root: Path, *args: str, **kw):
    return CliRunner(env={"NO_COLOR": "1"}).invoke(cli, ["--cache-dir", str(root), "bench", *args],
                                                   catch_exceptions=False, **kw)


@pytest.fixture(scope="module")
def png_run(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    threads = "1,2" if usable_cores() >= 2 else "1"
    result = invoke(root, "--sizes", "32,48", "--threads", threads, *FAST, "--output", str(out / "res"),
                    "--plot", str(out / "plot.png"), "--json")
    assert result.exit_code == 0, result.stderr
    return result, out


def test_json_document(png_run):
    result, out = png_run
    doc = json.loads(result.stdout)   # exactly one document on stdout
    fp = fingerprint()
    assert doc["fingerprint"]["id"] == fp["id"]
    assert doc["dtype"] == "float32"
    assert doc["threads"] == ([1, 2] if usable_cores() >= 2 else [1])
    assert doc["blas"] and doc["blas"][0]["vendor"] and doc["blas"][0]["used_by_numpy"]
    assert doc["blas_label"] in result.stderr
    assert doc["protocol"]["rounds"] == 2 and doc["protocol"]["interleaved"] is True
    for t in doc["threads"]:
        assert doc["peak"][str(t)]["gflops"] > 0
    assert doc["bandwidth"] == {}
    assert len(doc["results"]) == 2 * len(doc["threads"])

    by = {(r["problem"]["m"], r["problem"]["threads"]): r for r in doc["results"]}
    r32 = by[(32, 1)]
    assert r32["problem"] == {"m": 32, "n": 32, "k": 32, "dtype": "float32", "threads": 1}
    assert r32["flops"] == 2 * 32**3
    for contender in ("numpy", "default", "tuned"):
        fig = r32[contender]
        assert fig["gflops"] > 0 and fig["gflops_iqr"] >= 0
        assert len(fig["samples_seconds"]) == 2 and fig["samples"] == 2
        assert isinstance(fig["unstable"], bool)
        assert fig["percent_of_peak"] == pytest.approx(100 * fig["gflops"] / r32["peak_gflops"])
    # The untuned default of a small product is the unpacked tile cut to it (stack_params).
    from gemmtune.families import get_family
    from gemmtune.problem import Problem

    small = get_family("numba-gemm").default_params(Problem(32, 32, 32, "float32", 1))
    assert r32["default"]["params"] == small.to_dict() != default_params("float32").to_dict()
    assert r32["default"]["check"]["status"] in ("PASS", "MARGINAL")
    assert r32["tuned"]["source"] == "exact" and r32["tuned"]["params"]["MR"] == 4
    assert r32["tuned"]["same_as_default"] is False
    # No tuning for 48: the 32 one is borrowed and marked as such.
    r48 = by[(48, 1)]
    assert r48["tuned"]["source"] == "nearest"
    assert r48["tuned"]["tuned_problem"]["m"] == 32 and r48["tuned"]["distance"] > 0
    if 2 in doc["threads"]:
        # Nothing tuned for 2 threads: a product this small runs the 1-thread tuning on one.
        two = by[(32, 2)]["tuned"]
        assert two is None or (two["threads"] == 1 and two["threads_reason"])
    assert r32["gemmtune_vs_numpy"] == pytest.approx(r32["tuned"]["gflops"] / r32["numpy"]["gflops"])
    assert set(doc["files"]) == {"json", "csv", "plot"}


def test_files_json_and_csv(png_run):
    result, out = png_run
    doc = json.loads(result.stdout)
    threads = "-".join(str(t) for t in doc["threads"])
    json_path = out / "res" / f"bench-float32-square-32-48-t{threads}.json"
    assert doc["files"]["json"] == str(json_path)
    on_disk = json.loads(json_path.read_text())
    assert on_disk["results"] == doc["results"]   # raw samples included
    with open(doc["files"]["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    tuned = [r for r in rows if r["contender"] == "tuned"]
    assert {r["source"] for r in tuned} == {"exact", "nearest"}
    from gemmtune.bench.peers import onnxruntime_version

    peers = {"onnxruntime"} if onnxruntime_version() else set()
    assert {r["contender"] for r in rows} == {"numpy", "default", "tuned", "peak"} | peers
    r = next(r for r in rows if r["contender"] == "numpy" and r["m"] == "48" and r["threads"] == "1")
    fig = next(x for x in doc["results"] if x["problem"]["m"] == 48 and x["problem"]["threads"] == 1)["numpy"]
    assert float(r["gflops"]) == pytest.approx(fig["gflops"], rel=1e-5)
    assert r["unstable"] in ("True", "False") and r["k"] == "48"


def test_png_is_a_valid_image(png_run):
    result, out = png_run
    path = out / "plot.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400


def test_table_on_stderr_under_json(png_run):
    result, _ = png_run
    err = result.stderr
    # Piped at 80 columns: "nearest (32x32x32)" folds onto two lines of its cell.
    for text in ("gemmtune bench, float32", "numpy", "default", "tuned", "exact", "nearest",
                 "(32x32x32)", "FMA peak", fingerprint_id()):
        assert text in err
    assert "…" not in err
    ours = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert not any("\x1b[" in line for line in ours)   # NO_COLOR


def test_svg_shapes_suite_and_default_output_dir(root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "tiny.json"
    suite.write_text(json.dumps({"suite": "tiny", "shapes": [{"name": "skinny", "m": 40, "n": 8, "k": 24},
                                                             {"name": "wide", "m": 8, "n": 48, "k": 16}]}))
    result = invoke(root, "--shapes", str(suite), "--dtype", "f64", "--threads", "1", "--rounds", "2",
                    "--sample-seconds", "0.002", "--plot", "fig.svg")
    assert result.exit_code == 0, result.stderr
    # No --json: the table is data on stdout; where the files went is a message on stderr.
    assert "skinny" in result.stdout and "wide" in result.stdout and "fig.svg" not in result.stdout
    assert "fig.svg" in result.stderr
    svg = (tmp_path / "fig.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    made = tmp_path / "results" / fingerprint_id()
    doc = json.loads((made / "bench-float64-tiny-t1.json").read_text())
    assert [r["name"] for r in doc["results"]] == ["skinny", "wide"]
    assert doc["dtype"] == "float64" and doc["bandwidth"]["1"]["gbs"] > 0
    assert all(r["ceiling_gflops"] <= r["peak_gflops"] for r in doc["results"])
    assert (made / "bench-float64-tiny-t1.csv").is_file()


@pytest.mark.parametrize("args, code, words", [
    (("--dtype", "float16"), 2, "float16"),
    (("--sizes", ""), 2, "at least one size"),
    (("--sizes", " , "), 2, "at least one size"),
    (("--sizes", "256,abc"), 2, "'abc' is not an integer"),
    (("--sizes", "0"), 2, ">= 1"),
    (("--threads", "0"), 2, ">= 1"),
    (("--threads", "1,999"), 2, "usable cores"),
    (("-m", "8"), 2, "missing -n, -k"),
    (("-m", "8", "-n", "8", "-k", "8", "--sizes", "8"), 2, "only one of"),
    (("--shapes", "no-such-suite"), 2, "no shape file"),
    (("--plot", "out.jpg"), 2, ".png or .svg"),
    (("--conv", "1,64,56"), 2, "is not N,C,H,W,K,R,S"),
    (("--conv", "1,64,5,5,64,9,9"), 2, "kernel spans 9 pixels"),
    (("--conv", "1,64,56,56,64,3,3", "--sizes", "8"), 2, "only one of"),
    (("-b", "4", "--sizes", "8"), 2, "--batch goes with -m, -n and -k"),
    (("-b", "0", "-m", "8", "-n", "8", "-k", "8"), 2, "0"),
    (("--dtype", "s8s8", "--conv", "1,4,10,10,8,3,3,1,1"), 2, "GEMMs and stacks only"),
    (("--dtype", "u8u8", "-m", "8", "-n", "8", "-k", "33026"), 2, "fit in int32"),
])
def test_bad_input_is_one_sentence(tmp_path, monkeypatch, args, code, words):
    monkeypatch.chdir(tmp_path)
    result = invoke(tmp_path / "cache", *args)
    assert result.exit_code == code
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_shapes_file_that_does_not_parse(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"shapes": [{"m": 4, "n": 4}')
    result = invoke(tmp_path / "cache", "--shapes", str(bad), "--output", str(tmp_path / "o"))
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
    bad.write_text('{"shapes": [{"m": 4, "n": 4, "k": -1}]}')
    result = invoke(tmp_path / "cache", "--shapes", str(bad), "--output", str(tmp_path / "o"))
    assert result.exit_code == 2 and "k=-1" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke(tmp_path / "cache", "--sizes", "8", "--output", str(blocker / "sub"))
    assert result.exit_code == 1
    assert "cannot write the results to" in result.stderr and "Traceback" not in result.stderr
    result = invoke(tmp_path / "cache", "--sizes", "8", "--output", str(tmp_path / "o"),
                    "--plot", str(blocker / "p.png"))
    assert result.exit_code == 1 and "cannot write the plot to" in result.stderr


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # what an absent package looks like
    result = invoke(tmp_path / "cache", "--sizes", "8", "--output", str(tmp_path / "o"),
                    "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 1
    assert "gemmtune[plot]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_compare_with_a_saved_run_prints_tables_on_stdout(root, png_run, tmp_path):
    """``bench --compare OLD.json`` without --json: both tables are data on stdout, the
    files written are messages on stderr."""
    _, out = png_run
    old = next((out / "res").glob("*.json"))
    result = invoke(root, "--compare", str(old), "--sizes", "32", "--threads", "1", *FAST,
                    "--output", str(tmp_path / "res"))
    assert result.exit_code == 0, result.stderr
    assert "gemmtune bench, float32" in result.stdout and f"against {old.name}" in result.stdout
    rows = [ln for ln in result.stdout.splitlines() if ln.lstrip().startswith("32x32x32")]
    assert {c for c in ("numpy", "default", "tuned") if any(c in ln for ln in rows)} == \
        {"numpy", "default", "tuned"}
    assert any(v in result.stdout for v in ("faster", "slower", "within spread"))
    assert "json: " in result.stderr and "json: " not in result.stdout
    assert max(len(ln.rstrip()) for ln in result.stdout.splitlines()) <= 80


def test_compare_with_a_bad_file_fails_before_measuring(root, tmp_path):
    bad = tmp_path / "old.json"
    bad.write_text("{}")
    result = invoke(root, "--compare", str(bad), "--output", str(tmp_path / "res"))
    assert result.exit_code == 1 and "not a gemmtune bench document" in result.stderr
    assert not (tmp_path / "res").exists()


# -- stacks, layers and onnxruntime: one round of one call each ------------------------------

ONE = ("--rounds", "1", "--sample-seconds", "0", "--no-bandwidth", "--threads", "1")


def test_batch_gives_a_stacked_row(root, tmp_path):
    result = invoke(root, "-b", "3", "-m", "8", "-n", "12", "-k", "16", *ONE,
                    "--output", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [row] = doc["results"]
    assert row["problem"]["batch"] == 3 and row["flops"] == 2 * 3 * 8 * 12 * 16
    assert row["numpy"]["check"]["status"] == "PASS" and row["default"]["check"]["status"] == "PASS"
    assert "3 x 8x12x16" in result.stderr
    assert doc["files"]["json"].endswith("bench-float32-b3-8x12x16-t1.json")
    with open(doc["files"]["csv"], newline="") as f:
        assert {r["batch"] for r in csv.DictReader(f)} == {"3"}


def test_conv_gives_a_layer_row(root, tmp_path):
    result = invoke(root, "--conv", "1,4,10,10,8,3,3,1,1", *ONE, "--output", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)["results"]
    assert row["problem"]["op"] == "conv2d" and row["problem"]["conv"]["padding"] == [1, 1]
    assert row["flops"] == 2 * 1 * 8 * 10 * 10 * 4 * 3 * 3
    # The cache's one tuning (32x32x32) is the nearest for the layer's GEMM: conv2d is "tuned".
    assert row["default"] is None and row["tuned"]["label"] == "conv2d"
    assert row["tuned"]["source"] == "nearest" and row["tuned"]["check"]["status"] == "PASS"
    assert [g["source"] for g in row["tuned"]["gemms"]] == ["nearest"]
    assert row["numpy"]["gflops"] > 0
    assert "N1 C4 10x10 K8 3x3 s1 p1" in result.stderr


def test_suite_entries_bench_as_stacks_and_layers(root, tmp_path):
    suite = tmp_path / "mixed.json"
    suite.write_text(json.dumps({"suite": "mixed", "shapes": [
        {"name": "heads", "m": 8, "n": 12, "k": 16, "batch": 3},
        {"name": "layer", "conv": "1,4,10,10,8,3,3,1,1"}]}))
    result = invoke(root, "--shapes", str(suite), *ONE, "--output", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0, result.stderr
    heads, layer = json.loads(result.stdout)["results"]
    assert heads["name"] == "heads" and heads["problem"]["batch"] == 3
    assert layer["name"] == "layer" and layer["problem"]["op"] == "conv2d"


def test_onnxruntime_column_and_its_absence(root, tmp_path, monkeypatch):
    import sys

    from gemmtune.bench.peers import onnxruntime_version

    args = ("-m", "8", "-n", "8", "-k", "8", *ONE, "--output", str(tmp_path), "--json")
    if onnxruntime_version() is not None:
        result = invoke(root, *args)
        assert result.exit_code == 0, result.stderr
        [row] = json.loads(result.stdout)["results"]
        assert row["onnxruntime"]["gflops"] > 0 and "onnxruntime" in result.stderr
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # not installed, in this process
    result = invoke(root, *args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "onnxruntime" not in doc["results"][0] and doc["peers"]["onnxruntime"] is None
    assert result.stderr.count("onnxruntime and onnx are not installed") == 1
    header = next(line for line in result.stderr.splitlines() if "numpy" in line and "thr" in line)
    assert "onnxruntime" not in header


# -- integer pairs: GOP/s against numpy's int32 loop, float32 BLAS and MatMulInteger ----------

def test_an_integer_pair_in_gop_s(tmp_path):
    from gemmtune.bench.peers import onnxruntime_version
    from gemmtune.families import family_for
    from gemmtune.problem import Problem

    problem = Problem(32, 32, 32, "u8s8", 1)
    family = family_for(problem)
    default = family.default_params(problem)
    tuned = family.parse_params({**default.to_dict(), "unroll": 1 if default.unroll != 1 else 2})
    cache = tmp_path / "cache"
    TuningCache(cache).put(Entry(fingerprint_id(), problem, tuned.to_dict(), {"gflops": 1.0},
                                 make_provenance(sampler="test")))
    result = invoke(cache, "--dtype", "u8s8", "--sizes", "32,48", *ONE, "--output",
                    str(tmp_path / "res"), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dtype"] == "u8s8" and doc["unit"] == "GOP/s" and doc["peak"] == {}
    r32, r48 = doc["results"]
    assert r32["tuned"]["source"] == "exact" and r32["tuned"]["label"] == tuned.label()
    assert r48["tuned"]["source"] == "nearest" and r48["tuned"]["tuned_problem"]["m"] == 32
    peers = {"onnxruntime"} if onnxruntime_version() else set()
    if peers and "onnxruntime" not in r32:
        # Left out where it is not exact (AVX2 without VNNI: its u8s8 kernel saturates), and
        # said so once.
        assert "MatMulInteger gave a wrong result" in result.stderr
        peers = set()
    for r in (r32, r48):
        assert r["unit"] == "GOP/s" and r["f32_exact"] and r["numpy"]["inexact"] is False
        for role in {"numpy", "numpy_int", "default", "tuned"} | peers:
            assert r[role]["check"]["status"] == "PASS" and r[role]["gflops"] > 0
    header = "\n".join(line for line in result.stderr.splitlines()[:6])
    assert "gemmtune bench, u8s8, GOP/s" in header and "numpy" in header and "f32" in header
    assert "% peak" not in result.stderr and "FMA peak" not in result.stderr
    assert "exact equality with an int64 reference" in result.stderr
    with open(doc["files"]["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["contender"] for r in rows} == {"numpy", "numpy_int", "default", "tuned"} | peers
    assert {r["unit"] for r in rows} == {"GOP/s"} and {r["check"] for r in rows} == {"PASS"}
    # --compare measures the saved run's shapes and pair again, contender by contender.
    again = invoke(cache, "--compare", doc["files"]["json"], *ONE, "--output", str(tmp_path / "res2"),
                   "--json")
    assert again.exit_code == 0, again.stderr
    rows = json.loads(again.stdout)["compare"]["rows"]
    assert {r["contender"] for r in rows} == {"numpy", "numpy_int", "default", "tuned"} | peers
    assert {r["problem"]["dtype"] for r in rows} == {"u8s8"}


def test_an_integer_stack(tmp_path):
    result = invoke(tmp_path / "cache", "-b", "3", "-m", "8", "-n", "12", "-k", "16", "--dtype", "s8u8",
                    *ONE, "--output", str(tmp_path / "res"), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [row] = doc["results"]
    assert row["problem"]["batch"] == 3 and row["flops"] == 2 * 3 * 8 * 12 * 16
    assert all(row[c]["check"]["status"] == "PASS" for c in ("numpy", "numpy_int", "default"))
    assert doc["files"]["json"].endswith("bench-s8u8-b3-8x12x16-t1.json")
    assert "3 x 8x12x16" in result.stderr
    assert "runs it product by product" in " ".join(result.stderr.split())   # folded at 80 columns
