"""``gemmtune kernel``: generate one kernel and show its source, assembly summary or a check."""

from __future__ import annotations

import json

import click

from ..errors import GemmtuneError
from .options import dtype_option


def _parse_params(specs: tuple[str, ...], params_json: str | None):
    from ..kernels.params import KernelParams

    data = {}
    if params_json:
        try:
            data = json.loads(params_json)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not JSON: {e.msg}.", param_hint="--params") from None
        data = data.get("params", data) if isinstance(data, dict) else data
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
        return KernelParams.from_dict({**base, **data})
    except (TypeError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--params") from None


@click.command()
@click.option("-p", "specs", multiple=True, metavar="NAME=VALUE",
              help="A kernel parameter, e.g. -p MR=6 -p NR=16 (others keep their defaults).")
@click.option("--params", "params_json", metavar="JSON",
              help='All parameters as JSON, e.g. from `gemmtune cache show --json`.')
@dtype_option
@click.option("--source", is_flag=True, help="Print the generated numba module.")
@click.option("--asm", "show_asm", is_flag=True, help="Print the FMA and spill counts of the assembly.")
@click.option("--asm-file", type=click.Path(dir_okay=False, writable=True),
              help="Write the full assembly to this file.")
@click.option("--check", "check_", is_flag=True, help="Run the correctness check on the fringe shapes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def kernel(app, specs, params_json, dtype, source, show_asm, asm_file, check_, as_json):
    """Generate one kernel; show its source, what LLVM made of it, or check it."""
    params = _parse_params(specs, params_json)
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
    out = app.console
    out.print(f"kernel {params.label()} {dtype}")
    if "asm" in doc:
        a = doc["asm"]
        out.print(f"FMA instructions: {a['fma']['zmm']} zmm, {a['fma']['ymm']} ymm, {a['fma']['xmm']} xmm; "
                  f"vector stack loads/stores: {a['vector_spills']}; {a['instructions']} instructions")
    if "check" in doc:
        c = doc["check"]
        out.print(f"check: {c['status']} (residual {c['residual']:.3g}) {c['reason']}")
    if doc["check"]["status"] == "FAIL" if "check" in doc else False:
        raise GemmtuneError(f"kernel {params.label()} gives wrong results: {doc['check']['reason']}.")
