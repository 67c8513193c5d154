"""``gemmtune export`` and ``gemmtune import``: move tunings between machines as JSON."""

from __future__ import annotations

import sys

import click

from .options import dtype_option, given_shape, resolve_threads, shape_options, threads_option


def _plural(n: int, word: str = "entry") -> str:
    return f"{n} {word if n == 1 else ('entries' if word == 'entry' else word + 's')}"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _them(n: int) -> str:
    return "it" if n == 1 else "them"


@click.command()
@shape_options
@dtype_option
@threads_option
@click.option("--all", "everything", is_flag=True,
              help="Export every tuning of this machine (with --storage: of every machine).")
@click.option("--storage", default=None, metavar="URL",
              help="With --all: export the best configuration of every fingerprint and problem "
                   "in this study database (e.g. postgresql://USER@HOST/DB) instead of the cache.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write to this file instead of stdout.")
@click.pass_obj
def export(app, m, n, k, dtype: str, threads: int | None, everything: bool, storage: str | None,
           output: str | None) -> None:
    """Write this machine's tunings as a JSON document (one shape, or --all).

    The document carries this machine's fingerprint, so `gemmtune import` on another machine
    can tell whether the tunings were measured on the same hardware. With --storage URL --all
    it is the fleet table of a shared study database: one entry per fingerprint and problem,
    each naming its own fingerprint_id.
    """
    import json

    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint
    from ..problem import Problem
    from ..transfer import build_document

    if output == "":
        raise click.BadParameter("give a file name, or - for stdout.", param_hint="'-o' / '--output'")
    shape = given_shape(m, n, k)
    if shape is None and not everything:
        raise click.UsageError("Give a shape with -m, -n and -k, or --all.")
    if shape is not None and everything:
        raise click.UsageError("Give either a shape or --all, not both.")
    if storage is not None and not everything:
        raise click.UsageError("--storage exports a whole database: give --all with it.")
    store, fp = TuningCache(app.root), fingerprint()
    if storage is not None:
        doc = _fleet_document(app, storage, fp)
    elif shape is not None:
        problem = Problem(*shape, dtype=dtype, threads=resolve_threads(threads))
        entry = store.get(fp["id"], problem)
        if entry is None:
            raise GemmtuneError(f"No tuning for {problem.label()} on this machine in "
                                f"{store.path}; run `gemmtune search -m {problem.m} "
                                f"-n {problem.n} -k {problem.k}` first.")
        doc = build_document([entry], fp)
    else:
        entries = store.entries(fingerprint_id=fp["id"])
        if not entries:
            app.console.print(f"The cache {store.path} holds no tunings of this machine; "
                              "the document has no entries.", markup=False, soft_wrap=True)
        doc = build_document(entries, fp)
    text = json.dumps(doc, indent=2) + "\n"
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise GemmtuneError(f"Cannot write {output}: {e.strerror}.") from None
    app.console.print(f"Exported {_plural(len(doc['entries']))} to {output}.", markup=False,
                      soft_wrap=True)


def _fleet_document(app, storage: str, fp: dict) -> dict:
    """The export document of every fingerprint and problem in the study database ``storage``."""
    from pathlib import Path

    from ..errors import GemmtuneError
    from ..search.fleet import read_fleet
    from ..search.study import open_storage, redact
    from ..transfer import build_document

    # Opening a storage creates it; reading a misspelt file name must not.
    if storage.startswith("sqlite:///") and not Path(storage[len("sqlite:///"):]).is_file():
        raise GemmtuneError(f"Cannot export from {storage}: there is no such database file.")
    fleet = read_fleet(open_storage(storage, app.root)[0])
    doc = build_document(fleet.entries, fp)
    # The entries name their own fingerprint_id; these tell which machine each id is.
    doc["fingerprints"] = fleet.fingerprints
    doc["source"] = {"storage": redact(storage), "studies": fleet.studies}
    for name, why in fleet.skipped:
        app.console.print(f"note: study {name} gives no entry: {why}", markup=False,
                          soft_wrap=True)
    if not fleet.entries:
        app.console.print(f"The database {redact(storage)} holds no finished gemmtune study; "
                          "the document has no entries.", markup=False, soft_wrap=True)
    return doc


@click.command("import")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option("--force", is_flag=True,
              help="Also import tunings of other machines, marked unverified: each is checked "
                   "against the reference before its first use here.")
@click.pass_obj
def import_(app, file: str, force: bool) -> None:
    """Add the tunings of an exported JSON document (FILE, or - for stdin) to the cache.

    The whole file is checked first (schema and every parameter invariant); if anything is
    wrong nothing is imported. Only this machine's entries are taken (a fleet document from
    `export --storage URL --all` holds many machines'); --force also takes the others', never
    over a tuning this machine has, and the fastest where several machines tuned one problem.
    """
    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint_id
    from ..safejson import JSONRefused, read_file, read_stream
    from ..transfer import import_document, parse_text

    source = "stdin" if file == "-" else file
    if file == "-" and sys.stdin is None:  # started with stdin closed (`<&-`)
        raise GemmtuneError("Cannot import stdin: standard input is closed.")
    try:
        text = read_stream(sys.stdin.buffer) if file == "-" else read_file(file)
    except JSONRefused as e:
        raise GemmtuneError(f"Cannot import {source}: {e}.") from None
    except OSError as e:
        raise GemmtuneError(f"Cannot import {source}: {e.strerror or e}.") from None
    local = fingerprint_id()
    store = TuningCache(app.root)
    report = import_document(store, parse_text(text, source), source, local, force)

    if report.foreign and not report.imported:
        raise GemmtuneError(
            f"Refused {source}: its {_plural(len(report.foreign))} {_were(len(report.foreign))} "
            f"tuned on another machine (fingerprint {', '.join(report.foreign_ids)}; this "
            f"machine is {local}); use --force to import {_them(len(report.foreign))} unverified.")
    msg = f"Imported {_plural(len(report.imported))} into {store.path}"
    if report.replaced:
        msg += (" (1 replaced an existing one)" if report.replaced == 1 else
                f" ({report.replaced} replaced existing ones)")
    if report.forced:
        msg += (f"; {report.forced} from another machine {'is' if report.forced == 1 else 'are'} "
                "unverified until first use")
    if report.superseded:
        msg += (f"; left out {_plural(report.superseded)} of other machines for problems this "
                "machine has its own tuning of (or a faster one was taken)")
    msg += f"; skipped {len(report.foreign)}."
    app.console.print(msg, markup=False, soft_wrap=True)
    if report.foreign:
        app.console.print(
            f"warning: skipped {_plural(len(report.foreign))} tuned on another machine "
            f"(fingerprint {', '.join(report.foreign_ids)}); use --force to import "
            f"{_them(len(report.foreign))}.",
            markup=False, soft_wrap=True)
