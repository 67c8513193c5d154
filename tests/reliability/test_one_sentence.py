"""Hostile input to the command line ends in one sentence, never a traceback or a hang
(issue 14: items 4, 7-13, 15 and 17)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.fingerprint import fingerprint, fingerprint_id
from tests.factories import make_entry


def gemmtune(root: Path, *args: str, stdin=None, stdout=subprocess.PIPE, shell_stdin: str = "",
             timeout: float = 120) -> subprocess.CompletedProcess:
    """``gemmtune ARGS`` as a new process (real stdin and stdout), memory capped at 4 GiB."""
    env = {**os.environ, "GEMMTUNE_CACHE_DIR": str(root), "NO_COLOR": "1"}

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    cmd = [sys.executable, "-m", "gemmtune", *args]
    if shell_stdin:  # e.g. "<&-": stdin closed before Python starts
        cmd = ["sh", "-c", 'exec "$@" ' + shell_stdin, "sh", *cmd]
    return subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env,
                          timeout=timeout, preexec_fn=cap)


def one_error(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or code == 2, err
    return err


def good_document() -> dict:
    return {"schema_version": 1, "fingerprint": fingerprint(),
            "entries": [make_entry(fingerprint_id()).to_dict()]}


# -- item 4: endless and blocking files ---------------------------------------------------

def test_import_refuses_devices_fifos_and_endless_stdin(tmp_path):
    root = tmp_path / "cache"
    err = one_error(gemmtune(root, "import", "/dev/zero"))
    assert "Cannot import /dev/zero: it is not a regular file." in err
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    err = one_error(gemmtune(root, "import", str(fifo), timeout=60))  # no writer: must not wait
    assert f"Cannot import {fifo}: it is not a regular file." in err
    link = tmp_path / "link.json"
    link.symlink_to("/dev/zero")
    assert "it is not a regular file" in one_error(gemmtune(root, "import", str(link)))
    with open("/dev/zero", "rb") as zero:
        err = one_error(gemmtune(root, "import", "-", stdin=zero, timeout=60))
    assert "Cannot import stdin: it is larger than 64 MiB." in err
    assert not root.exists() or not (root / "tunings.json").exists()


@pytest.mark.parametrize("kind", ["devzero", "fifo"])
def test_a_tunings_file_that_is_not_a_regular_file_is_moved_aside(tmp_path, kind):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    path = root / "tunings.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    proc = gemmtune(root, "cache", "list", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["entries"] == []
    assert "is unusable because it is not a regular file; it was moved to" in proc.stderr.decode()
    assert not os.path.lexists(path) and len(list(root.glob("tunings.json.corrupt-*"))) == 1


def test_a_large_document_is_refused_past_the_limit_only(tmp_path, monkeypatch):
    from gemmtune import safejson

    monkeypatch.setattr(safejson, "MAX_BYTES", 1000)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"a": "x" * 900}))
    assert safejson.loads(safejson.read_file(good, limit=1000)) == {"a": "x" * 900}
    with pytest.raises(safejson.JSONRefused, match="larger than"):
        safejson.read_file(good, limit=500)


# -- item 10: deep shape files -----------------------------------------------------------

@pytest.mark.parametrize("command", ["search", "bench"])
@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_deeply_nested_shapes_file_is_one_sentence(run_cli, tmp_path, command, depth):
    deep = tmp_path / "deep.json"
    deep.write_text('{"shapes": ' + "[" * depth + "]" * depth + "}")
    result = run_cli(command, "--shapes", str(deep))
    assert result.exit_code == 2, result.output
    assert f"{deep} cannot be used because it is nested more than 32 levels deep." in result.stderr
    assert "Traceback" not in result.stderr


def test_a_shapes_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "shapes.json"
    os.mkfifo(fifo)
    err = one_error(gemmtune(tmp_path / "cache", "search", "--shapes", str(fifo), timeout=60), 2)
    assert "cannot be used because it is not a regular file" in err


# -- item 13 and 17: stdin closed, not UTF-8 ----------------------------------------------

def test_import_from_a_closed_stdin(tmp_path):
    err = one_error(gemmtune(tmp_path / "cache", "import", "-", shell_stdin="<&-"))
    assert "Cannot import stdin: standard input is closed." in err


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(min_size=1, max_size=50).filter(lambda b: not _utf8(b)),
       at=st.integers(0, 200))
def test_bytes_that_are_not_utf8_are_reported_as_such(run_cli, cache_root, tmp_path, junk, at):
    text = json.dumps(good_document()).encode()
    data = text[:at] + junk + text[at:]
    result = run_cli("import", "-", input=data)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Cannot import stdin: it is not UTF-8 text (")
    f = tmp_path / "bad.json"
    f.write_bytes(data)
    result = run_cli("import", str(f))
    assert result.stderr.startswith(f"Error: Cannot import {f}: it is not UTF-8 text (")
    assert not (cache_root / "tunings.json").exists()


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# -- items 8 and 9: timeouts and seeds ----------------------------------------------------

@pytest.mark.parametrize("option", ["--timeout", "--candidate-timeout"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e10", "1e400", "0", "-1"])
def test_a_timeout_that_is_no_duration_is_a_usage_error(run_cli, cache_root, option, value):
    result = run_cli("search", "-m", "8", "-n", "8", "-k", "8", "--threads", "1", option, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr and "Traceback" not in result.stderr
    assert not cache_root.exists()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)))
def test_a_seed_outside_32_bits_is_a_usage_error(run_cli, cache_root, seed):
    result = run_cli("search", "-m", "8", "-n", "8", "-k", "8", "--threads", "1", "--seed", str(seed))
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--seed'" in result.stderr and "0<=x<=4294967295" in result.stderr
    assert not cache_root.exists()


# -- item 15: credentials in a storage URL -----------------------------------------------

secrets = st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="!$%*+,-./:;=@[]^_~"),
                  min_size=4, max_size=16)


@settings(max_examples=30, deadline=None)
@given(secret=secrets, name=st.sampled_from(["password", "sslpassword", "PASSWORD", "auth_token",
                                             "api_key", "pwd"]),
       before=st.sampled_from(["", "user=bob&"]), after=st.sampled_from(["", "&sslmode=disable"]))
def test_redact_hides_query_string_credentials(secret, name, before, after):
    from gemmtune.search.study import redact

    url = f"postgresql://127.0.0.1:1/db?{before}{name}={secret}{after}"
    assert redact(url) == f"postgresql://127.0.0.1:1/db?{before}{name}=***{after}"
    # user:pass@ and a query-string secret together
    both = redact(f"postgresql://bob:{secret}@127.0.0.1:1/db?{name}={secret}")
    assert both == f"postgresql://bob:***@127.0.0.1:1/db?{name}=***"


def test_the_storage_password_never_reaches_the_terminal(run_cli, cache_root):
    pytest.importorskip("psycopg")
    url = "postgresql://127.0.0.1:1/db?password=s3cretZ&user=bob"
    result = run_cli("search", "-m", "8", "-n", "8", "-k", "8", "--threads", "1", "--trials", "1",
                     "--storage", url)
    assert result.exit_code == 1
    assert "s3cretZ" not in result.output and "password=***" in result.stderr
    assert "Traceback" not in result.stderr


# -- item 12: a stdout that cannot be written ----------------------------------------------

@pytest.mark.parametrize("args", [["export", "--all"], ["cache", "list", "--json"],
                                  ["cache", "list"], ["cache", "path"], ["--help"],
                                  ["info", "--json"], ["kernel", "--source"]])
def test_a_full_stdout_is_one_sentence(tmp_path, args):
    root = tmp_path / "cache"
    from gemmtune.cache import TuningCache

    TuningCache(root).put(make_entry(fingerprint_id()))  # so that every command prints
    with open("/dev/full", "w") as full:
        err = one_error(gemmtune(root, *args, stdout=full))
    assert err.endswith("Error: Cannot write to standard output: No space left on device.\n")


def test_stdout_still_carries_the_output_and_a_closed_pipe_is_quiet(tmp_path):
    root = tmp_path / "cache"
    proc = gemmtune(root, "cache", "path")
    assert proc.returncode == 0 and proc.stdout.decode() == f"{root / 'tunings.json'}\n"
    head = subprocess.run(f"{sys.executable} -m gemmtune --help | head -c 5", shell=True,
                          capture_output=True, env={**os.environ, "GEMMTUNE_CACHE_DIR": str(root)})
    assert head.stdout == b"Usage" and b"Traceback" not in head.stderr


# -- item 11: strings that are not Unicode text ---------------------------------------------

@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.integers(0xD800, 0xDFFF), where=st.sampled_from(["value", "key", "params"]))
def test_a_lone_surrogate_is_refused_on_import_and_read(run_cli, tmp_path_factory, code, where):
    doc = good_document()
    escape = f"\\u{code:04x}"
    if where == "value":
        doc["entries"][0]["provenance"]["note"] = "SURROGATE"
    elif where == "key":
        doc["entries"][0]["provenance"]["SURROGATE"] = 1
    else:
        doc["entries"][0]["params"]["SURROGATE"] = 1
    text = json.dumps(doc).replace("SURROGATE", escape)
    d = tmp_path_factory.mktemp("s")
    f = d / "doc.json"
    f.write_text(text)
    result = run_cli("--cache-dir", str(d / "cache"), "import", str(f))
    assert result.exit_code == 1
    assert f"it holds the lone surrogate {escape}, which is not Unicode text" in result.stderr
    assert not (d / "cache" / "tunings.json").exists()
    # A tunings file that holds one (written by an older version) is moved aside.
    (d / "cache").mkdir()
    tunings = {"schema_version": 1, "entries": doc["entries"]}
    (d / "cache" / "tunings.json").write_text(json.dumps(tunings).replace("SURROGATE", escape))
    result = run_cli("--cache-dir", str(d / "cache"), "cache", "show")
    assert result.exit_code == 0 and "lone surrogate" in result.stderr


def test_a_surrogate_pair_is_text_and_shows(run_cli, tmp_path, cache_root):
    doc = good_document()
    doc["entries"][0]["provenance"]["note"] = "EMOJI"
    f = tmp_path / "doc.json"
    f.write_text(json.dumps(doc).replace("EMOJI", "\\ud83d\\ude00"))
    assert run_cli("import", str(f)).exit_code == 0
    proc = gemmtune(cache_root, "cache", "show")
    assert proc.returncode == 0 and "\N{GRINNING FACE}" in proc.stdout.decode()


# -- item 17: the wording of three messages ------------------------------------------------

@pytest.mark.parametrize("count", [1, 2])
def test_refused_import_counts_its_entries_in_good_english(run_cli, tmp_path, count):
    from tests.factories import OTHER_ID

    doc = good_document()
    doc["fingerprint"] = {**doc["fingerprint"], "id": OTHER_ID}
    doc["entries"] = [make_entry(OTHER_ID, 64 + i).to_dict() for i in range(count)]
    f = tmp_path / "other.json"
    f.write_text(json.dumps(doc))
    result = run_cli("import", str(f))
    assert result.exit_code == 1
    said = "its 1 entry was tuned" if count == 1 else "its 2 entries were tuned"
    assert said in result.stderr


def test_export_to_an_empty_file_name_is_a_usage_error(run_cli):
    result = run_cli("export", "--all", "-o", "")
    assert result.exit_code == 2 and "give a file name, or - for stdout." in result.stderr


@pytest.mark.parametrize("target", ["/dev/full", "file"])
def test_bench_output_that_is_not_a_directory(run_cli, tmp_path, target):
    path = target if target.startswith("/") else str(tmp_path / "f")
    if target == "file":
        Path(path).write_text("")
    result = run_cli("bench", "--sizes", "8", "--output", path)
    assert result.exit_code in (1, 2) and "File exists" not in result.stderr
    assert "Traceback" not in result.stderr
    if target == "/dev/full":
        assert f"cannot write the results to {path}: it is not a directory." in result.stderr
