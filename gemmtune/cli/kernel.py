"""``gemmtune kernel``: generate one kernel and show its source, assembly summary or a check."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import GemmtuneError
from .options import dtype_option


def params_from_document(doc: Any) -> tuple[dict[str, Any], str | None]:
    """The kernel parameters in a JSON document, and the dtype it was tuned for if it says.

    Accepts what gemmtune prints: ``cache show --json`` (``{"entry": ...}``, or
    ``{"entries": [one]}``), ``search --json`` (``{"best": {"params": ...}}``), ``kernel
    --json`` and an entry (``{"params": ...}``), or the bare parameters.

    Raises:
        ValueError: the document holds no parameters, or several entries (one sentence).
    """
    if not isinstance(doc, dict):
        raise ValueError("the JSON must be an object (the parameters, or a gemmtune document).")
    if "entries" in doc and "entry" not in doc:
        entries = doc["entries"]
        if not isinstance(entries, list) or len(entries) != 1:
            n = len(entries) if isinstance(entries, list) else 0
            raise ValueError(f"the document holds {n} entries; give one (cache show -m -n -k "
                             "--json names one).")
        doc = {"entry": entries[0]}
    if isinstance(doc.get("entry"), dict):
        doc = doc["entry"]
    elif isinstance(doc.get("best"), dict):
        doc = {**doc["best"], "problem": doc.get("problem")}
    elif "best" in doc:
        raise ValueError("the search document has no best configuration (no candidate passed).")
    dtype = doc.get("dtype")
    if isinstance(doc.get("problem"), dict):
        dtype = doc["problem"].get("dtype", dtype)
    params = doc.get("params", doc)
    if not isinstance(params, dict):
        raise ValueError("the document's \"params\" must be an object.")
    return params, dtype if isinstance(dtype, str) else None


def _parse_params_and_dtype(specs: tuple[str, ...], params_json: str | None):
    """KernelParams from ``--params`` then ``-p`` (which win), and the document's dtype."""
    from ..kernels.params import KernelParams

    data: dict[str, Any] = {}
    dtype = None
    if params_json:
        try:
            doc = json.loads(params_json)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not JSON: {e.msg}.", param_hint="--params") from None
        try:
            data, dtype = params_from_document(doc)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--params") from None
        data = dict(data)
    base = KernelParams().to_dict()
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise click.BadParameter(f"{spec!r} is not NAME=VALUE.", param_hint="-p")
        if key in KernelParams.BOOLS:
            data[key] = value.lower() in ("1", "true", "yes", "on")
        elif key == "parallel":
            data[key] = value
        else:
            try:
                data[key] = int(value)
            except ValueError:
                raise click.BadParameter(f"{key} must be an integer, got {value!r}.", param_hint="-p") from None
    try:
        return KernelParams.from_dict({**base, **data}), dtype
    except (TypeError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--params") from None


@click.command()
@click.option("-p", "specs", multiple=True, metavar="NAME=VALUE",
              help="A kernel parameter, e.g. -p MR=6 -p NR=16 (others keep their defaults).")
@click.option("--params", "params_json", metavar="JSON",
              help='All parameters as JSON: the parameters, or what `gemmtune cache show -m M '
                   '-n N -k K --json` or `gemmtune search --json` print (their dtype is used '
                   'unless --dtype is given).')
@dtype_option
@click.option("--source", is_flag=True, help="Print the generated numba module.")
@click.option("--asm", "show_asm", is_flag=True, help="Print the FMA and spill counts of the assembly.")
@click.option("--asm-file", type=click.Path(dir_okay=False, writable=True),
              help="Write the full assembly to this file.")
@click.option("--check", "check_", is_flag=True, help="Run the correctness check on the fringe shapes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def kernel(ctx, specs, params_json, dtype, source, show_asm, asm_file, check_, as_json):
    """Generate one kernel; show its source, what LLVM made of it, or check it.

    Everything it shows goes to stdout; errors to stderr.
    """
    app = ctx.obj
    from ..dtypes import spec as dtype_spec

    if dtype_spec(dtype).kind != "float":
        _integer_kernel(app, specs, params_json, dtype, source, show_asm, asm_file, check_, as_json)
        return
    params, doc_dtype = _parse_params_and_dtype(specs, params_json)
    if doc_dtype is not None and ctx.get_parameter_source("dtype") == click.core.ParameterSource.DEFAULT:
        from ..dtypes import normalize

        dtype = normalize(doc_dtype)
    problems = params.problems(dtype)
    if problems:
        raise click.BadParameter(problems[0], param_hint="-p/--params")
    from ..kernels.gemm import compile_kernel
    from ..kernels.template import generate_source

    doc = {"params": params.to_dict(), "dtype": dtype, "label": params.label()}
    if source and not as_json:
        click.echo(generate_source(params, dtype))
    if show_asm or asm_file or check_:
        k = compile_kernel(params, dtype, app.root)
        if show_asm or asm_file:
            import tempfile

            from ..kernels.inspect import kernel_asm, summarize

            # numba keeps no assembly for code loaded from its disk cache: compile afresh.
            with tempfile.TemporaryDirectory(prefix="gemmtune-asm-") as tmp:
                asm = kernel_asm(compile_kernel(params, dtype, tmp))
            if asm_file:
                try:
                    with open(asm_file, "w") as f:
                        f.write(asm)
                except OSError as e:
                    raise GemmtuneError(f"Cannot write {asm_file}: {e.strerror}.") from None
            doc["asm"] = summarize(asm).to_dict()
        if check_:
            from ..kernels.reference import verify_kernel

            v = verify_kernel(k, 127, 131, 137, dtype)
            doc["check"] = {"status": v.status, "residual": v.residual, "reason": v.reason}
    if as_json:
        if source:
            doc["source"] = generate_source(params, dtype)
        app.print_json(doc)
        return
    # What the kernel is and what LLVM made of it is the command's data: stdout.
    click.echo(f"kernel {params.label()} {dtype}")
    if "asm" in doc:
        a = doc["asm"]
        click.echo(f"FMA instructions: {a['fma']['zmm']} zmm, {a['fma']['ymm']} ymm, "
                   f"{a['fma']['xmm']} xmm; vector stack loads/stores: {a['vector_spills']}; "
                   f"{a['instructions']} instructions")
    if "check" in doc:
        c = doc["check"]
        click.echo(f"check: {c['status']} (residual {c['residual']:.3g}) {c['reason']}".rstrip())
    if doc["check"]["status"] == "FAIL" if "check" in doc else False:
        raise GemmtuneError(f"kernel {params.label()} gives wrong results: {doc['check']['reason']}.")


def _integer_kernel(app, specs, params_json, dtype, source, show_asm, asm_file, check_, as_json):
    """``gemmtune kernel --dtype u8s8 ...``: the integer family's kernel (AMX or VNNI/AVX2/
    generic, whichever runs here), checked exactly; --asm counts its dot-product instructions."""
    from ..families import family_for
    from ..problem import Problem

    problem = Problem(127, 131, 137, dtype, 1)
    family = family_for(problem)
    data = family.default_params(problem).to_dict()
    if params_json:
        try:
            doc = json.loads(params_json)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not JSON: {e.msg}.", param_hint="--params") from None
        given = doc.get("params", doc.get("best", {}).get("params", doc)) if isinstance(doc, dict) else doc
        if not isinstance(given, dict):
            raise click.BadParameter("the parameters must be a JSON object.", param_hint="--params")
        data.update(given)
    for item in specs:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE.", param_hint="-p")
        data[key] = int(value) if value.lstrip("-").isdigit() else (
            value.lower() in ("true", "yes", "on") if value.lower() in ("true", "false", "yes", "no", "on", "off")
            else value)
    try:
        params = family.check_params(data, problem)
    except (TypeError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="-p/--params") from None
    doc = {"params": params.to_dict(), "dtype": dtype, "label": params.label(), "family": family.name}
    if source:
        raise click.UsageError(f"--source shows float GEMM modules; the {family.name} module is "
                               "written to the cache dir's kernels/ folder when it compiles.")
    if show_asm or asm_file or check_:
        kernel = family.compile(params, problem, app.root)
        if show_asm or asm_file:
            try:
                asm = kernel.asm()
            except ValueError as e:
                raise GemmtuneError(str(e)) from None
            if asm_file:
                try:
                    with open(asm_file, "w") as f:
                        f.write(asm)
                except OSError as e:
                    raise GemmtuneError(f"Cannot write {asm_file}: {e.strerror}.") from None
            from ..int8.inspect import summarize_int8

            doc["asm"] = summarize_int8(asm)
        if check_:
            v = family.verify(kernel, problem)
            doc["check"] = {"status": v.status, "residual": v.residual, "reason": v.reason}
    if as_json:
        app.print_json(doc)
    else:
        click.echo(f"kernel {params.label()} {dtype} ({family.name})")
        if "asm" in doc:
            click.echo("assembly: " + ", ".join(f"{k} {v}" for k, v in doc["asm"].items()))
        if "check" in doc:
            c = doc["check"]
            click.echo(f"check: {c['status']} {c['reason']}".rstrip())
    if doc.get("check", {}).get("status") == "FAIL":
        raise GemmtuneError(f"kernel {params.label()} gives wrong results: {doc['check']['reason']}.")
