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
