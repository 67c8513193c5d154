"""``gemmtune search``: a tiny real search, resume, Ctrl-C, failures and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint_id
from gemmtune.problem import Problem

from ..search.helpers import cache_with_shared_kernels, shared_kernel_dir

TINY = ["-m", "64", "-n", "64", "-k", "64", "--threads", "1", "--seed", "0"]


@pytest.fixture
def root(cache_root, tmp_path_factory) -> Path:
    """The isolated cache dir, sharing compiled kernels with the other search tests."""
    return cache_with_shared_kernels(cache_root, shared_kernel_dir(tmp_path_factory))


def test_tiny_search_caches_the_winner_and_a_rerun_resumes(run_cli, root):
    first = run_cli("search", *TINY, "--trials", "2", "--json")
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["problem"] == {"m": 64, "n": 64, "k": 64, "dtype": "float32", "threads": 1}
    assert doc["trials"] == 2 and doc["run"]["trials"] == 2
    assert set(doc["best"]["params"]) >= {"MR", "NR", "MC", "KC", "NC"}
    assert doc["best"]["gflops"] > 0 and doc["numpy_gflops"] > 0 and doc["best"]["remeasured"]
    assert doc["cached"] is True
    assert "best config" in first.stderr and "% of numpy" in first.stderr
    # Two candidates and the finish: three numpy figures, enough for the noise line.
    assert doc["noise"]["measurements"] >= 3 and "machine noise: " in first.stderr
    assert doc["best"]["after_gflops"] > 0 and doc["best"]["alone_gflops"] > 0
    entry = TuningCache(root).get(fingerprint_id(), Problem(64, 64, 64, "float32", 1))
    assert entry is not None and entry.params == doc["best"]["params"]
    assert {"gflops_iqr", "load_average", "numpy_spread", "under_load"} <= set(entry.performance)
    assert entry.provenance["study"] == doc["study"]["name"]
    assert (root / "studies.db").is_file()

    second = run_cli("search", *TINY, "--trials", "1", "--json")
    assert second.exit_code == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["study"]["name"] == doc["study"]["name"]
    assert again["trials"] == 3 and again["run"]["trials"] == 1  # continued, seeds not rerun


def test_a_wrong_result_is_a_failed_trial_and_never_cached(run_cli, root, monkeypatch):
    monkeypatch.setenv("GEMMTUNE_TEST_FAULT", "wrong")
    result = run_cli("search", *TINY, "--trials", "2", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["best"] is None and doc["run"]["failed"] == 2 and doc["cached"] is False
    assert "no candidate" in result.stderr
    assert TuningCache(root).entries() == []


def test_sigint_keeps_the_study_and_caches_the_best(root):
    import optuna

    env = dict(os.environ, GEMMTUNE_CACHE_DIR=str(root), NO_COLOR="1")
    env.pop("GEMMTUNE_TEST_FAULT", None)
    proc = subprocess.Popen([sys.executable, "-m", "gemmtune", "search", *TINY, "--trials", "50",
                             "--study", "interrupted", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            # SIGINT as a terminal delivers it, even when this test run was
                            # started in the background (which ignores SIGINT in children).
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = f"sqlite:///{root.resolve() / 'studies.db'}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            try:
                study = optuna.load_study(study_name="interrupted", storage=url)
            except Exception:
                continue
            if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    doc = json.loads(out)
    assert doc["run"]["interrupted"] is True and doc["best"] is not None and doc["cached"]
    study = optuna.load_study(study_name="interrupted", storage=url)
    assert any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert not any(t.state == optuna.trial.TrialState.RUNNING for t in study.trials)
    entry = TuningCache(root).get(fingerprint_id(), Problem(64, 64, 64, "float32", 1))
    assert entry is not None and entry.provenance["interrupted"] is True
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize("args,code,message", [
    (["-m", "0", "-n", "8", "-k", "8"], 2, "-m"),
    (["-m", "x", "-n", "8", "-k", "8"], 2, "-m"),
    (["-m", "8", "-n", "8"], 2, "missing -k"),
    (["-m", "8", "-n", "8", "-k", "8", "--sampler", "annealing"], 2, "--sampler"),
    (["-m", "8", "-n", "8", "-k", "8", "--threads", "999"], 2, "usable cores"),
    (["-m", "8", "-n", "8", "-k", "8", "--threads", "0"], 2, "--threads"),
    (["-m", "8", "-n", "8", "-k", "8", "--trials", "0"], 2, "--trials"),
    (["-m", "8", "-n", "8", "-k", "8", "--timeout", "0"], 2, "--timeout"),
    (["-m", "8", "-n", "8", "-k", "8", "--shapes", "mlp"], 2, "not -m/-n/-k and --shapes"),
    (["--shapes", "no-such-suite"], 2, "no shape file"),
    (["-m", "300000", "-n", "300000", "-k", "300000"], 1, "memory"),
    (["-m", "8", "-n", "8", "-k", "8", "--storage", "sqlite:////no/such/dir/studies.db"], 1,
     "cannot open the study storage"),
    (["-m", "8", "-n", "8", "-k", "8", "--storage", "postgresql://me:secret@127.0.0.1:9/x"], 1,
     "cannot open the study storage"),
])
def test_bad_input_is_one_sentence_and_touches_nothing(run_cli, cache_root, args, code, message):
    result = run_cli("search", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    assert result.stdout == ""
    assert not (cache_root / "tunings.json").exists()
    assert not (cache_root / "studies.db").exists()


def test_shipped_shape_suites_load():
    from gemmtune.shapes import load_shapes, suite_names

    assert {"transformer", "mlp"} <= set(suite_names())
    name, shapes = load_shapes("transformer")
    assert name == "transformer" and (512, 768, 3072) in {(s.m, s.n, s.k) for s in shapes}
    for suite in suite_names():
        for s in load_shapes(suite)[1]:
            assert s.m * s.n * s.k <= 2048 ** 3  # modest: a suite tunes in minutes


def test_suite_search_shows_progress_a_summary_and_plots(run_cli, root, tmp_path, monkeypatch):
    """A suite search piped at 80 columns: "shape i/N name" on stderr, each shape's table and
    the suite's summary on stdout, one history plot per shape that reads back."""
    import matplotlib.image

    monkeypatch.setenv("COLUMNS", "80")
    suite = tmp_path / "two.json"
    suite.write_text(json.dumps({"suite": "two", "shapes": [
        {"name": "square", "m": 64, "n": 64, "k": 64},
        {"name": "flat_one", "m": 32, "n": 64, "k": 48}]}))
    result = run_cli("search", "--shapes", str(suite), "--threads", "1", "--seed", "0",
                     "--trials", "1", "--plot", str(tmp_path / "h.png"))
    assert result.exit_code == 0, result.stderr
    err, out = result.stderr, result.stdout
    assert "shape 1/2 square: 64x64x64 float32 1t" in err
    assert "shape 2/2 flat_one: 32x64x48 float32 1t" in err
    assert err.index("shape 1/2") < err.index("shape 2/2")
    # Data on stdout, readable in a file: both per-shape tables, then the summary.
    assert out.count("best config") == 2 and "gemmtune search --shapes two: 2 shapes" in out
    summary = out.split("gemmtune search --shapes two")[1]
    assert "square" in summary and "flat_one" in summary and "32x64x48" in summary
    assert "\x1b[" not in out and "…" not in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    for name in ("square", "flat_one"):
        path = tmp_path / f"h-{name}.png"
        assert f"plot: {path}" in err
        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 300


def test_plot_errors_come_before_any_search(run_cli, root, tmp_path, monkeypatch):
    result = run_cli("search", *TINY, "--plot", str(tmp_path / "h.gif"))
    assert result.exit_code == 2 and ".png, .svg or .pdf" in result.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run_cli("search", *TINY, "--plot", str(tmp_path / "h.png"))
    assert result.exit_code == 1 and "gemmtune[plot]" in result.stderr
    assert "Traceback" not in result.stderr and not (root / "studies.db").exists()

