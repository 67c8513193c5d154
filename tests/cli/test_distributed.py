"""Several workers on one study, and the fleet table, end to end.

The worker tests run real ``gemmtune search`` processes against a real PostgreSQL server:
GEMMTUNE_TEST_POSTGRES_URL names a database on it whose user may create databases (each
module run gets a fresh one). ``.ci/run`` starts a throw-away server and sets the variable;
in CI (``CI`` set) a missing URL fails these tests instead of skipping them. The fleet export
and import tests use an SQLite study database and always run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import jsonschema
import optuna
import pytest

from gemmtune.cache import TuningCache
from gemmtune.fingerprint import fingerprint, fingerprint_id
from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem
from gemmtune.search.study import is_start, make_sampler, open_storage, open_study, with_driver
from gemmtune.search.space import SearchSpace
from gemmtune.transfer import schema
from tests.factories import OTHER_ID

from ..search.helpers import cache_with_shared_kernels, shared_kernel_dir
from ..search.test_fleet import add_study

ENV_URL = "GEMMTUNE_TEST_POSTGRES_URL"
SHAPE = ["-m", "48", "-n", "48", "-k", "48", "--threads", "1"]
PROBLEM = Problem(48, 48, 48, "float32", 1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def pg_url():
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    base = os.environ.get(ENV_URL)
    if not base:
        if _in_ci():
            pytest.fail(f"{ENV_URL} is not set: in CI the distributed-search tests must run on "
                        "a PostgreSQL server (.ci/run starts one).")
        pytest.skip(f"set {ENV_URL} to a PostgreSQL database URL to run these tests")
    psycopg = pytest.importorskip("psycopg") if not _in_ci() else __import__("psycopg")
    name = f"gemmtune_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, GEMMTUNE_CACHE_DIR=str(root), NO_COLOR="1")
    env.pop("GEMMTUNE_TEST_FAULT", None)
    return env


def _gemmtune(*args: str, root: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gemmtune", *args], capture_output=True,
                          text=True, env=_env(root), timeout=timeout)


def test_two_workers_share_one_study_and_the_export_names_the_best_trial(
        pg_url, tmp_path, tmp_path_factory, run_cli):
    kernels = shared_kernel_dir(tmp_path_factory)
    procs = []
    for i in range(2):  # two "machines" of one kind: separate cache dirs, one study
        root = cache_with_shared_kernels(tmp_path / f"worker{i}", kernels)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gemmtune", "search", *SHAPE, "--trials", "3", "--seed", str(i),
             "--storage", pg_url, "--study", "shared", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(root)))
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    docs = [json.loads(out) for out, _ in outs]

    study = optuna.load_study(study_name="shared", storage=with_driver(pg_url))
    assert study.user_attrs["fingerprint_id"] == fingerprint_id()
    assert study.user_attrs["problem"] == PROBLEM.to_dict()
    # Rejected points and repeats of a measured kernel aside.
    measured = [t for t in study.trials if "kernel" in t.user_attrs and "duplicate_of" not in t.user_attrs]
    workers = {f"{socket.gethostname()}:{p.pid}" for p in procs}
    assert {t.user_attrs["worker"] for t in measured} == workers  # both workers' trials
    assert len(measured) == 6
    # The last worker to finish counted every trial of the study, the other's too.
    assert max(d["trials"] for d in docs) == 6
    # No configuration measured twice unless the sampler proposed it again: the starting
    # points, which both workers enqueue, run once each.
    seeds = [KernelParams.from_dict(t.user_attrs["kernel"]).key()
             for t in measured if is_start(t)]
    assert seeds and len(seeds) == len(set(seeds))
    for i, (doc, p) in enumerate(zip(docs, procs)):
        assert doc["best"] is not None and doc["cached"], i
        entry = TuningCache(tmp_path / f"worker{i}").get(fingerprint_id(), PROBLEM)
        assert entry is not None and entry.params == doc["best"]["params"]

    out = tmp_path / "fleet.json"
    result = run_cli("export", "--storage", pg_url, "--all", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema())
    (entry,) = doc["entries"]
    best = study.best_trial
    assert entry["fingerprint_id"] == fingerprint_id() and entry["problem"] == PROBLEM.to_dict()
    assert entry["params"] == best.user_attrs["kernel"]
    assert entry["performance"]["gflops"] == best.value
    assert entry["provenance"]["study"] == "shared" and entry["provenance"]["trial"] == best.number
    assert doc["fingerprints"][fingerprint_id()]["id"] == fingerprint_id()


def test_a_worker_of_another_machine_is_refused(pg_url, tmp_path):
    storage, _ = open_storage(pg_url, tmp_path)
    space = SearchSpace.for_fingerprint("float32", 1)
    study = open_study(storage, "foreign", PROBLEM, fingerprint_id(),
                       make_sampler("tpe", space, 0), space, fingerprint=fingerprint())
    study.set_user_attr("fingerprint_id", OTHER_ID)  # as if made on other hardware
    result = _gemmtune("search", *SHAPE, "--trials", "1", "--storage", pg_url,
                       "--study", "foreign", root=tmp_path / "cache")
    assert result.returncode == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "another machine" in lines[0] and OTHER_ID in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert optuna.load_study(study_name="foreign", storage=storage).trials == []


@pytest.mark.parametrize("command", [["search", *SHAPE, "--trials", "1"], ["export", "--all"]])
def test_an_unreachable_server_is_one_sentence_and_exit_1(tmp_path, command):
    # Refused at once on a closed port; the connect timeout bounds a silent host.
    result = _gemmtune(*command, "--storage", "postgresql://nobody@127.0.0.1:1/x",
                       root=tmp_path / "cache", timeout=60)
    assert result.returncode == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot open the study storage" in lines[0], result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


# -- the fleet table on an SQLite study database ---------------------------------------------

@pytest.fixture
def fleet_db(tmp_path) -> str:
    """A database with studies of this machine and of another: 512^3 tuned by both, 256^3 by
    this machine only, 128^3 by the other only."""
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    storage = open_storage(url, tmp_path)[0]
    here = fingerprint_id()
    p = {s: Problem(s, s, s, "float32", 1) for s in (512, 256, 128)}
    add_study(storage, "here-512", here, p[512], [(30.0, {"MR": 4}), (20.0, {})],
              fingerprint=fingerprint())
    add_study(storage, "here-256", here, p[256], [(25.0, {})])
    add_study(storage, "other-512", OTHER_ID, p[512], [(90.0, {"NR": 8})])
    add_study(storage, "other-128", OTHER_ID, p[128], [(40.0, {"KC": 128})])
    return url


def test_fleet_export_holds_every_fingerprint_and_problem(run_cli, fleet_db, tmp_path):
    result = run_cli("export", "--storage", fleet_db, "--all")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema())
    assert doc["fingerprint"]["id"] == fingerprint_id()  # the exporting machine
    rows = {(e["fingerprint_id"], e["problem"]["m"]): e for e in doc["entries"]}
    assert set(rows) == {(fingerprint_id(), 512), (fingerprint_id(), 256), (OTHER_ID, 512),
                         (OTHER_ID, 128)}
    assert rows[(fingerprint_id(), 512)]["performance"]["gflops"] == 30.0
    assert doc["source"]["studies"] == 4 and list(doc["fingerprints"]) == [fingerprint_id()]


def test_importing_a_fleet_document_keeps_this_machines_entries(run_cli, fleet_db, tmp_path,
                                                               cache_root):
    path = tmp_path / "fleet.json"
    assert run_cli("export", "--storage", fleet_db, "--all", "-o", str(path)).exit_code == 0
    result = run_cli("import", str(path))
    assert result.exit_code == 0, result.stderr
    store = TuningCache(cache_root)
    assert [e.problem.m for e in store.entries()] == [256, 512]
    assert all(e.fingerprint_id == fingerprint_id() and e.verified for e in store.entries())
    assert "skipped 2" in result.stderr and OTHER_ID in result.stderr

    # --force fills in only what this machine lacks (128^3), never over its own 512^3.
    result = run_cli("import", str(path), "--force")
    assert result.exit_code == 0, result.stderr
    got = {e.problem.m: e for e in store.entries()}
    assert set(got) == {128, 256, 512}
    assert got[512].verified and got[512].performance["gflops"] == 30.0
    assert not got[128].verified and got[128].params["KC"] == 128
    assert got[128].provenance["imported_from"]["fingerprint_id"] == OTHER_ID
    assert "left out 1 entry" in result.stderr


def test_export_storage_needs_all(run_cli, fleet_db):
    result = run_cli("export", "-m", "8", "-n", "8", "-k", "8", "--storage", fleet_db)
    assert result.exit_code == 2 and "--all" in result.stderr


def test_export_from_a_missing_sqlite_file_creates_nothing(run_cli, tmp_path):
    result = run_cli("export", "--storage", f"sqlite:///{tmp_path / 'nope.db'}", "--all")
    assert result.exit_code == 1 and "no such database" in result.stderr
    assert not (tmp_path / "nope.db").exists()
