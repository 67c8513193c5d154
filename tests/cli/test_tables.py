"""Output for people and programs: widths (COLUMNS, 80 when piped), plain text under NO_COLOR
or off a terminal, and tables that read whole at 80 columns."""

from __future__ import annotations

import io
import json
import re

import pytest

from gemmtune.cache import TuningCache
from gemmtune.cli.tables import PIPE_WIDTH, fit_table, make_console, plain, width_for
from gemmtune.fingerprint import fingerprint_id
from tests.factories import OTHER_ID, make_entry

ESC = "\x1b["


class FakeTTY(io.StringIO):
    """A stream that says it is a terminal, to see what a terminal would get."""

    def isatty(self) -> bool:
        return True


def _styled(console) -> str:
    console.print("[bold]bold[/bold] [italic]italic[/italic] [red]red[/red]")
    return console.file.getvalue()


def test_width_follows_columns_and_is_80_when_piped(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert width_for(io.StringIO()) == PIPE_WIDTH == 80
    assert width_for(FakeTTY()) is None          # rich asks the terminal
    monkeypatch.setenv("COLUMNS", "132")
    assert width_for(io.StringIO()) == 132 and width_for(FakeTTY()) == 132
    assert make_console(io.StringIO()).width == 132


def test_plain_without_terminal_or_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert plain(io.StringIO()) and not plain(FakeTTY())
    # A terminal gets styles; a pipe gets none.
    assert ESC in _styled(make_console(FakeTTY()))
    assert ESC not in _styled(make_console(io.StringIO()))
    # NO_COLOR on a terminal: no colour, and no bold or italic either.
    monkeypatch.setenv("NO_COLOR", "1")
    out = _styled(make_console(FakeTTY()))
    assert ESC not in out and "bold italic red" in out


def test_fit_table_folds_then_drops_optional_columns():
    from rich.table import Table

    def build(dropped, compact):
        t = Table()
        for name in ("a", "b", "c"):
            if name not in dropped:
                t.add_column(name, no_wrap=True)
        cells = {"a": "x" * 20, "b": ("y" * 15 + ("\n" if compact else " ") + "y" * 15),
                 "c": "z" * 20}
        t.add_row(*(cells[n] for n in ("a", "b", "c") if n not in dropped))
        return t

    def width(table, columns):
        console = make_console(io.StringIO())
        console.width = columns
        console.print(fit_table(console, build, ["c"]))
        text = console.file.getvalue()
        assert "…" not in text
        return text

    assert "y" * 15 + " " + "y" * 15 in width(None, 120)       # one line per row
    folded = width(None, 70)
    assert "z" * 20 in folded and "y" * 15 + " " + "y" not in folded  # folded, all kept
    dropped = width(None, 50)
    assert "z" not in dropped and "x" * 20 in dropped          # the optional column goes


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture
def store(cache_root):
    store = TuningCache(cache_root)
    fid = fingerprint_id()
    store.put_many([make_entry(fid, 512, 256, 128, threads=1, gflops=31.5),
                    make_entry(fid, 4096, 16, 4096, dtype="float64", threads=2, gflops=183.86),
                    make_entry(OTHER_ID, 1000, 1000, 1000, gflops=77.0)])
    return store


@pytest.mark.parametrize("columns", [None, "80"])
def test_cache_list_reads_whole_at_80_columns_piped(run_cli, store, monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)   # piped: 80 by default, not 160
    else:
        monkeypatch.setenv("COLUMNS", columns)
    out = run_cli("cache", "list").stdout
    assert max(len(line) for line in _lines(out)) <= 80
    assert "…" not in out and ESC not in out
    for text in (f"{fingerprint_id()} *", OTHER_ID, "4096x16x4096", "1000x1000x1000", "float64",
                 "183.9", "96/256/4080"):
        assert text in out


def test_cache_list_uses_a_wide_terminal(run_cli, store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = run_cli("cache", "list").stdout
    row = next(line for line in out.splitlines() if "4096x16x4096" in line)
    assert "20.0" in row and "6x8 96/256/4080" in row   # numpy's figure; one line per row


def test_no_color_leaves_no_escapes_anywhere(run_cli, store, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    for args in (("cache", "list"), ("cache", "show"), ("info",)):
        result = run_cli(*args)
        assert result.exit_code == 0, result.stderr
        assert ESC not in result.stdout and ESC not in result.stderr


def _bench_doc() -> dict:
    def fig(g, label=None, **kw):
        d = {"gflops": g, "gflops_iqr": g / 8, "unstable": True, "percent_of_peak": 50.0}
        if label:
            d["label"] = label
        return {**d, **kw}

    results = []
    for name, (m, n, k) in (("attn_out_proj", (512, 768, 768)), ("512", (512, 512, 512))):
        results.append({"name": name, "problem": {"m": m, "n": n, "k": k, "dtype": "float32",
                                                  "threads": 2},
                        "numpy": fig(129.2), "default": fig(101.7, "a"),
                        "tuned": fig(127.1, "b", source="nearest", same_as_default=True,
                                     tuned_problem={"m": 4096, "n": 4096, "k": 4096}),
                        "peak_gflops": 220.4, "ceiling_gflops": 61.3, "memory_bound": True,
                        "gemmtune_vs_numpy": 0.98})
    return {"dtype": "float32", "fingerprint": {"id": "daacc26864f7", "brand": "Xeon",
                                                "cpu_name": "emeraldrapids", "cores": 2},
            "protocol": {"rounds": 7, "unstable_iqr_ratio": 0.1}, "numpy_version": "2.4.6",
            "blas_label": "OpenBLAS 0.3.31", "peak": {"2": {"gflops": 220.4}},
            "bandwidth": {}, "results": results}


def test_bench_table_reads_whole_at_80_columns():
    from gemmtune.bench.report import render

    data, err = make_console(io.StringIO()), make_console(io.StringIO())
    assert data.width == 80
    render(err, _bench_doc(), {"json": "x.json"}, data=data)
    out = data.file.getvalue()
    assert max(len(line) for line in _lines(out)) <= 80
    assert "…" not in out and ESC not in out
    for text in ("attn_out_proj", "512x768x768", "129.2", "±8.1", "(4096x4096x4096)",
                 "= default", "0.98x", "FMA peak"):
        assert text in out
    assert "json: x.json" in err.file.getvalue() and "x.json" not in out


@pytest.mark.parametrize("blas, omp, says", [
    ("4", "10000", ("do not spin on the cores", "stop spinning soon")),
    ("28", "300000", ("spin after each call", "spin after a parallel kernel"))])
def test_bench_says_what_the_spin_settings_in_effect_mean(blas, omp, says):
    # A value the user set is reported for what it does, not as gemmtune's own setting.
    from gemmtune.bench.report import render

    doc = {**_bench_doc(), "blas_thread_timeout": {"value": blas, "source": "set by the user"},
           "omp_spin": {"value": omp, "source": "set by the user"}}
    data = make_console(io.StringIO())
    render(make_console(io.StringIO()), doc, {}, data=data)
    out = " ".join(data.file.getvalue().split())
    assert f"OPENBLAS_THREAD_TIMEOUT={blas} (set by the user)" in out
    assert f"GOMP_SPINCOUNT={omp} (set by the user)" in out
    for text in says:
        assert text in out


def test_suite_summary_reads_whole_at_80_columns():
    from gemmtune.cli.search_view import render_suite

    docs = [{"name": n, "problem": {"m": m, "n": 768, "k": 3072}, "numpy_gflops": 120.0,
             "percent_of_numpy": 98.4, "cached": True, "run": {"trials": 40},
             "best": {"gflops": 118.1, "label": "12x32_mc672_kc768_nc14880_v512_u4_p0_m"}}
            for n, m in (("ffn_down", 512), ("attn_out_proj", 512))]
    console = make_console(io.StringIO())
    render_suite(console, "transformer", docs, total=4)
    out = console.file.getvalue()
    assert max(len(line) for line in _lines(out)) <= 80 and "…" not in out
    assert "2 of 4 shapes" in out and "ffn_down" in out and "attn_out_proj" in out
    assert "118.1" in out and "98%" in out
    wide = make_console(io.StringIO())
    wide.width = 160
    render_suite(wide, "transformer", docs, total=2)
    assert "12x32_mc672_kc768_nc14880_v512_u4_p0_m" in wide.file.getvalue()


def test_cache_show_rounds_floats(run_cli, store):
    out = run_cli("cache", "show", "-m", "4096", "-n", "16", "-k", "4096", "--dtype", "f64",
                  "--threads", "2").stdout
    assert re.search(r"performance\.gflops\s+\S*\s*183\.9\b", out)
    assert "183.86" not in out
    doc = json.loads(run_cli("cache", "show", "-m", "4096", "-n", "16", "-k", "4096", "--dtype",
                             "f64", "--threads", "2", "--json").stdout)
    assert doc["entry"]["performance"]["gflops"] == 183.86   # the JSON keeps every digit


def test_piped_lines_have_no_trailing_blanks(run_cli, store):
    out = run_cli("cache", "list").stdout
    assert out and all(line == line.rstrip() for line in out.splitlines())


from hypothesis import given, settings, strategies as st  # noqa: E402

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=14)
_size = st.integers(min_value=1, max_value=99_999)


@settings(max_examples=40, deadline=None)
@given(width=st.integers(min_value=80, max_value=200),
       shapes=st.lists(st.tuples(_name, _size, _size, _size), min_size=1, max_size=4),
       gflops=st.floats(min_value=0.01, max_value=9999.0))
def test_bench_table_never_cuts_a_cell(width, shapes, gflops):
    """At any width from 80 up, whatever the names, sizes and figures: every line fits and no
    cell is cut to "…"."""
    from gemmtune.bench.report import results_table

    doc = _bench_doc()
    row = doc["results"][0]
    doc["results"] = []
    for name, m, n, k in shapes:
        r = json.loads(json.dumps(row))
        r["name"] = name
        r["problem"].update(m=m, n=n, k=k)
        r["tuned"]["tuned_problem"] = {"m": k, "n": m, "k": n}
        for c in ("numpy", "default", "tuned"):
            r[c]["gflops"] = gflops
        doc["results"].append(r)
    console = make_console(io.StringIO())
    console.width = width
    console.print(results_table(doc, console))
    out = console.file.getvalue()
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    for name, m, n, k in shapes:
        assert f"{m}x{n}x{k}" in out
        assert name in out or name == str(m)   # a sizes run names a shape by its M


@settings(max_examples=30, deadline=None)
@given(width=st.integers(min_value=80, max_value=200),
       shapes=st.lists(st.tuples(_size, _size, _size, st.sampled_from(["float32", "float64"]),
                                 st.integers(min_value=1, max_value=64)), min_size=1, max_size=4),
       gflops=st.floats(min_value=0.01, max_value=99999.0))
def test_cache_list_never_cuts_a_cell(width, shapes, gflops):
    from gemmtune.cli.cache import table_of_entries

    entries = [make_entry(OTHER_ID, m, n, k, dtype, threads, gflops=gflops)
               for m, n, k, dtype, threads in shapes]
    console = make_console(io.StringIO())
    console.width = width
    console.print(table_of_entries(entries, "local", "Tunings in /some/where", console))
    out = console.file.getvalue()
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= width
    for m, n, k, dtype, _ in shapes:
        assert f"{m}x{n}x{k}" in out and dtype in out
