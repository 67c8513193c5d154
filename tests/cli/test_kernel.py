from __future__ import annotations

import json


def test_source_json_without_compiling(run_cli):
    r = run_cli("kernel", "-p", "MR=4", "-p", "NR=8", "-p", "MC=8", "--json", "--source")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["params"]["MR"] == 4 and "def gemm(" in doc["source"]


def test_broken_invariant_is_usage_error(run_cli):
    r = run_cli("kernel", "-p", "MR=7")
    assert r.exit_code == 2 and "MC=96 is not a multiple of MR=7" in r.stderr


def test_not_an_integer(run_cli):
    r = run_cli("kernel", "-p", "KC=big")
    assert r.exit_code == 2 and "KC must be an integer" in r.stderr


def test_asm_summary_counts_vector_fmas(run_cli):
    r = run_cli("kernel", "-p", "MR=2", "-p", "NR=8", "-p", "MC=4", "-p", "KC=8", "-p", "NC=16",
                "--asm", "--check", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert sum(doc["asm"]["fma"].values()) > 0
    assert doc["check"]["status"] == "PASS"


def test_params_round_trip_from_cache_show(run_cli, cache_root):
    """``gemmtune kernel --params "$(gemmtune cache show ... --json)"``, as the help says."""
    from gemmtune.cache import TuningCache
    from gemmtune.fingerprint import fingerprint_id
    from tests.factories import make_entry

    tuned = dict(MR=4, NR=16, MC=32, KC=64, NC=128, vec_bits=256, unroll=2, parallel="ic")
    TuningCache(cache_root).put(make_entry(fingerprint_id(), 96, 80, 64, "float64", 1,
                                           **{**tuned, "NR": 8}))
    shown = run_cli("cache", "show", "-m", "96", "-n", "80", "-k", "64", "--dtype", "f64",
                    "--threads", "1", "--json")
    assert shown.exit_code == 0, shown.stderr
    r = run_cli("kernel", "--params", shown.stdout, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["params"] == json.loads(shown.stdout)["entry"]["params"]
    assert doc["dtype"] == "float64"            # the entry's dtype, as --dtype was not given
    assert doc["params"]["NR"] == 8 and doc["params"]["MC"] == 32
    # "cache show --json" without a shape lists entries: one is taken, several are refused.
    listed = run_cli("cache", "show", "--json").stdout
    assert json.loads(run_cli("kernel", "--params", listed, "--json").stdout)["params"] == doc["params"]
    TuningCache(cache_root).put(make_entry(fingerprint_id(), 8, 8, 8, threads=1))
    r = run_cli("kernel", "--params", run_cli("cache", "show", "--json").stdout)
    assert r.exit_code == 2 and "2 entries" in r.stderr


def test_params_from_a_search_document(run_cli):
    search_doc = {"best": {"params": {"MR": 4, "NR": 16, "MC": 32, "KC": 64, "NC": 128},
                           "label": "x"},
                  "problem": {"m": 64, "n": 64, "k": 64, "dtype": "float32", "threads": 1}}
    r = run_cli("kernel", "--params", json.dumps(search_doc), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["params"]["MC"] == 32
    r = run_cli("kernel", "--params", json.dumps({"best": None}))
    assert r.exit_code == 2 and "no best configuration" in r.stderr


def test_source_goes_to_stdout(run_cli):
    r = run_cli("kernel", "-p", "MR=4", "-p", "NR=8", "-p", "MC=8", "--source")
    assert r.exit_code == 0, r.stderr
    assert "def gemm(" in r.stdout and "kernel 4x8" in r.stdout and r.stderr == ""


def test_an_integer_kernel_is_checked_exactly(run_cli):
    r = run_cli("kernel", "--dtype", "u8s8", "--check", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["check"]["status"] == "PASS" and doc["family"] in ("amx-int8", "numba-int8")
