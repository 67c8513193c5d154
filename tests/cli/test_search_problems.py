"""``gemmtune search`` beyond one GEMM: a stack (--batch), a convolution layer (--conv), an
8-bit pair (--dtype u8s8), and the usage errors between them."""

from __future__ import annotations

import json

import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem

from ..search.helpers import cache_with_shared_kernels, shared_kernel_dir


@pytest.fixture
def root(cache_root, tmp_path_factory):
    return cache_with_shared_kernels(cache_root, shared_kernel_dir(tmp_path_factory))


def test_a_stack_is_tuned_and_cached_under_its_batch(run_cli, root):
    r = run_cli("search", "-b", "8", "-m", "16", "-n", "16", "-k", "16", "--threads", "1",
                "--trials", "1", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["problem"]["batch"] == 8 and doc["cached"]
    assert TuningCache(root).get(fingerprint_id(), Problem(16, 16, 16, "float32", 1, batch=8))


def test_a_conv_layer_tunes_the_gemms_conv2d_and_conv2d_backward_run(run_cli, root):
    from gemmtune.conv import ConvSpec, layer_gemms

    r = run_cli("search", "--conv", "1,4,6,6,8,3,3,1,1", "--threads", "1", "--trials", "1", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    gemms = layer_gemms(ConvSpec.parse("1,4,6,6,8,3,3,1,1"))
    assert [d["problem"] for d in doc["results"]] == [g.problem("float32", 1).to_dict() for g, _ in gemms]
    assert [d["role"] for d in doc["results"]] == ["forward", "grad_x", "grad_w"]
    store = TuningCache(root)
    assert all(store.get(fingerprint_id(), Problem.from_dict(d["problem"])) for d in doc["results"])
    # The summary table (stderr under --json) says which GEMM each row is.
    assert "grad_x" in r.stderr and "grad_w" in r.stderr


def test_forward_only_tunes_a_conv_suites_forward_gemms(run_cli, root, tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"suite": "net", "shapes": [{"name": "c", "conv": "1,4,6,6,8,3,3,1,1"}]}))
    r = run_cli("search", "--shapes", str(path), "--forward-only", "--threads", "1", "--trials", "1")
    assert r.exit_code == 0, r.stderr
    table = r.stdout.split("gemmtune search --shapes net")[1]
    assert "forward" in table and "8x36x36" in table and "grad_x" not in table


def test_an_integer_pair_is_tuned_exactly(run_cli, root):
    r = run_cli("search", "-m", "24", "-n", "40", "-k", "64", "--dtype", "u8s8", "--threads", "1",
                "--trials", "1", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["problem"]["dtype"] == "u8s8" and doc["best"]["gflops"] > 0
    assert doc["family"] in ("amx-int8", "numba-int8")


@pytest.mark.parametrize("args", [
    ["--conv", "1,4,6,6,8,3,3", "-m", "8", "-n", "8", "-k", "8"],
    ["--conv", "1,4,6,6,8,3,3", "--shapes", "mlp"],
    ["--conv", "1,2,3"],
    ["-m", "8", "-n", "8", "-k", "8", "--batch", "0"],
    ["-m", "8", "-n", "8", "-k", "8", "--forward-only"],
    ["--conv", "1,4,6,6,8,3,3", "--dtype", "u8s8"],
])
def test_conflicting_or_bad_problems_are_usage_errors(run_cli, root, args):
    r = run_cli("search", *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
