"""``gemmtune info``: this machine's fingerprint and where gemmtune keeps its files."""

from __future__ import annotations

from typing import Any

import click

from .tables import stdout_console


def _cache_line(c: dict[str, Any]) -> str:
    size = c.get("size")
    size_text = "? KiB" if size is None else (f"{size // 1024**2} MiB" if size >= 1024**2
                                              else f"{size // 1024} KiB")
    return (f"L{c.get('level')} {c.get('type') or '?'}: {size_text}, {c.get('ways') or '?'}-way, "
            f"{c.get('line') or '?'} B lines, {c.get('sets') or '?'} sets")


def _blas_line(lib: dict[str, Any]) -> str:
    parts = [lib.get("vendor"), lib.get("version"), lib.get("architecture")]
    return " ".join(str(p) for p in parts if p) or "?"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_obj
def info(app, as_json: bool) -> None:
    """Show this machine's hardware fingerprint, ISA family and cache directory.

    Tunings are stored per fingerprint id: the identity fields are hashed into it, the
    recorded fields are only for people to read.
    """
    from ..cache import TuningCache
    from ..fingerprint import fingerprint, isa_family, vector_bits, vector_registers

    fp = fingerprint()
    extra = {"isa_family": isa_family(fp), "vector_bits": vector_bits(fp),
             "vector_registers": vector_registers(fp), "cache_dir": str(app.root),
             "tunings": str(TuningCache(app.root).path)}
    if as_json:
        app.print_json({"fingerprint": fp, **extra})
        return

    from rich.table import Table

    ident, rec = fp["identity"], fp["recorded"]
    table = Table(title="gemmtune info", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("fingerprint id", fp["id"])
    table.add_section()
    table.add_row("arch", str(ident["arch"]))
    table.add_row("cpu name (LLVM)", str(ident["cpu_name"]))
    table.add_row("ISA features", " ".join(ident["isa"]) or "-")
    table.add_row("caches", "\n".join(_cache_line(c) for c in ident["caches"]) or "unknown")
    table.add_row("usable cores", str(ident["cores"]))
    table.add_row("numba / llvmlite / LLVM",
                  f"{ident['numba']} / {ident['llvmlite']} / {ident['llvm']}")
    table.add_row("generator hash", str(ident["generator"]))
    table.add_section()
    table.add_row("brand (not hashed)", str(rec.get("brand") or "-"))
    table.add_row("hostname (not hashed)", str(rec.get("hostname") or "-"))
    table.add_row("numpy (not hashed)", str(rec.get("numpy") or "-"))
    table.add_row("BLAS (not hashed)", "\n".join(_blas_line(b) for b in rec.get("blas", [])) or "-")
    table.add_section()
    table.add_row("ISA family", f"{extra['isa_family']} ({extra['vector_bits']}-bit vectors, "
                                f"{extra['vector_registers']} registers)")
    console = stdout_console()
    console.print(table)
    # Paths under the table, one line each however long: a path folded inside a cell at 80
    # columns cannot be copied.
    console.print(f"cache dir: {extra['cache_dir']}", markup=False, soft_wrap=True)
    console.print(f"tunings file: {extra['tunings']}", markup=False, soft_wrap=True)
