"""GEMMTUNE_VERBOSE=1: one line per newly chosen problem, saying which configuration and why."""

from __future__ import annotations

import pytest

import gemmtune
from gemmtune.cache import TuningCache
from gemmtune.explain import describe_choice, verbose
from gemmtune.fingerprint import fingerprint_id
from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem

from .factories import make_entry


def test_verbose_values(monkeypatch):
    for value, on in (("1", True), ("yes", True), ("", False), ("0", False), ("off", False)):
        monkeypatch.setenv("GEMMTUNE_VERBOSE", value)
        assert verbose() is on
    monkeypatch.delenv("GEMMTUNE_VERBOSE")
    assert verbose() is False


def test_lines_say_which_and_why():
    p, kp = Problem(100, 200, 300, "float32", 2), KernelParams()
    line = describe_choice(p, kp, {"source": "default", "family": "float_gemm"})
    assert line.startswith("gemmtune: 100x200x300 float32 2t -> " + kp.label())
    assert "default" in line and "nothing of float32 at 2t is tuned" in line
    near = describe_choice(p, kp, {"source": "nearest", "distance": 0.6931,
                                   "problem": Problem(200, 200, 300, "float32", 2).to_dict(),
                                   "verified": False})
    assert "nearest tuned problem, 200x200x300 float32 2t" in near and "0.69" in near
    assert "imported and verified here" in near
    assert "(exact: the tuning of this problem)" in describe_choice(p, kp, {"source": "exact",
                                                                            "problem": p.to_dict()})


@pytest.mark.parametrize("on", [True, False])
def test_one_line_per_new_problem_on_stderr(tmp_path, monkeypatch, capsys, on):
    root = tmp_path / "cache"
    if on:
        monkeypatch.setenv("GEMMTUNE_VERBOSE", "1")
    else:
        monkeypatch.delenv("GEMMTUNE_VERBOSE", raising=False)
    TuningCache(root).put(make_entry(fingerprint_id(), 64, 64, 64, threads=1, MC=48))
    for _ in range(2):   # the second time the choice is known: no new line
        exact = gemmtune.best_config(64, 64, 64, threads=1, cache_dir=root)
        near = gemmtune.best_config(80, 64, 64, threads=1, cache_dir=root)
        default = gemmtune.best_config(64, 64, 64, "float64", threads=1, cache_dir=root)
    assert (exact["source"], near["source"], default["source"]) == ("exact", "nearest", "default")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("gemmtune:")]
    if not on:
        assert lines == []
        return
    assert len(lines) == 3
    assert "64x64x64 float32 1t" in lines[0] and "(exact" in lines[0] and "mc48" in lines[0]
    assert "80x64x64 float32 1t" in lines[1] and "(nearest" in lines[1]
    assert "float64" in lines[2] and "(default" in lines[2]
