"""``gemmtune info``: the fingerprint as a table or one JSON document."""

from __future__ import annotations

import json

from gemmtune.fingerprint import fingerprint, isa_family


def test_info_json(run_cli, cache_root):
    result = run_cli("info", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    fp = fingerprint()
    assert doc["fingerprint"]["id"] == fp["id"]
    assert doc["fingerprint"]["identity"] == fp["identity"]
    assert doc["isa_family"] == isa_family()
    assert doc["cache_dir"] == str(cache_root)
    assert doc["tunings"] == str(cache_root / "tunings.json")
    assert not cache_root.exists()  # info only reads


def test_info_table(run_cli, cache_root):
    result = run_cli("info")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    fp = fingerprint()
    for text in (fp["id"], fp["identity"]["cpu_name"], "ISA family", isa_family(),
                 str(cache_root), "not hashed"):
        assert text in out
    assert "\x1b[" not in out  # NO_COLOR
    assert result.stderr == ""


def test_cache_dir_option_wins_over_environment(run_cli, tmp_path):
    other = tmp_path / "elsewhere"
    doc = json.loads(run_cli("--cache-dir", str(other), "info", "--json").stdout)
    assert doc["cache_dir"] == str(other)
