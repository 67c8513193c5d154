"""``gemmtune export`` and ``gemmtune import``: move tunings between machines as JSON."""

from __future__ import annotations

import sys

import click

from .options import dtype_option, given_shape, resolve_threads, shape_options, threads_option


def _plural(n: int, word: str = "entry") -> str:
    return f"{n} {word if n == 1 else ('entries' if word == 'entry' else word + 's')}"


@click.command()
@shape_options
@dtype_option
@threads_option
@click.option("--all", "everything", is_flag=True, help="Export every tuning of this machine.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write to this file instead of stdout.")
@click.pass_obj
def export(app, m, n, k, dtype: str, threads: int | None, everything: bool,
           output: str | None) -> None:
    """Write this machine's tunings as a JSON document (one shape, or --all).

    The document carries this machine's fingerprint, so `gemmtune import` on another machine
    can tell whether the tunings were measured on the same hardware.
    """
    import json

    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint
    from ..problem import Problem
    from ..transfer import build_document

    shape = given_shape(m, n, k)
    if shape is None and not everything:
        raise click.UsageError("Give a shape with -m, -n and -k, or --all.")
    if shape is not None and everything:
        raise click.UsageError("Give either a shape or --all, not both.")
    store, fp = TuningCache(app.root), fingerprint()
    if shape is not None:
        problem = Problem(*shape, dtype=dtype, threads=resolve_threads(threads))
        entry = store.get(fp["id"], problem)
        if entry is None:
            raise GemmtuneError(f"No tuning for {problem.label()} on this machine in "
                                f"{store.path}; run `gemmtune search -m {problem.m} "
                                f"-n {problem.n} -k {problem.k}` first.")
        entries = [entry]
    else:
        entries = store.entries(fingerprint_id=fp["id"])
        if not entries:
            app.console.print(f"The cache {store.path} holds no tunings of this machine; "
                              "the document has no entries.", markup=False, soft_wrap=True)
    text = json.dumps(build_document(entries, fp), indent=2) + "\n"
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise GemmtuneError(f"Cannot write {output}: {e.strerror}.") from None
    app.console.print(f"Exported {_plural(len(entries))} to {output}.", markup=False, soft_wrap=True)


@click.command("import")
@click.argument("file", type=click.Path(allow_dash=True))
@click.option("--force", is_flag=True,
              help="Also import tunings of other machines, marked unverified: each is checked "
                   "against the reference before its first use here.")
@click.pass_obj
def import_(app, file: str, force: bool) -> None:
    """Add the tunings of an exported JSON document (FILE, or - for stdin) to the cache.

    The whole file is checked first (schema and every parameter invariant); if anything is
    wrong nothing is imported.
    """
    from ..cache import TuningCache
    from ..errors import GemmtuneError
    from ..fingerprint import fingerprint_id
    from ..transfer import import_document, parse_text

    source = "stdin" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "it is not UTF-8 text"
        raise GemmtuneError(f"Cannot import {source}: {why}.") from None
    local = fingerprint_id()
    store = TuningCache(app.root)
    report = import_document(store, parse_text(text, source), source, local, force)

    if report.foreign and not report.imported:
        raise GemmtuneError(
            f"Refused {source}: its {_plural(len(report.foreign))} were tuned on another machine "
            f"(fingerprint {', '.join(report.foreign_ids)}; this machine is {local}); use "
            "--force to import them unverified.")
    msg = f"Imported {_plural(len(report.imported))} into {store.path}"
    if report.replaced:
        msg += f" ({report.replaced} replaced existing ones)"
    if report.forced:
        msg += f"; {report.forced} from another machine are unverified until first use"
    msg += f"; skipped {len(report.foreign)}."
    app.console.print(msg, markup=False, soft_wrap=True)
    if report.foreign:
        app.console.print(
            f"warning: skipped {_plural(len(report.foreign))} tuned on another machine "
            f"(fingerprint {', '.join(report.foreign_ids)}); use --force to import them.",
            markup=False, soft_wrap=True)
