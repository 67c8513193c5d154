"""The ``gemmtune`` command line: a root group, one module per command.

Commands import numba, optuna and numpy inside their bodies, so ``gemmtune --help`` is instant.
"""

from __future__ import annotations

import os

import click

from .app import App
from .. import __version__
from ..paths import ENV_CACHE_DIR

_COMMANDS = {
    # name -> (module, attribute); imported only when the command runs or help lists it.
    "info": ("gemmtune.cli.info", "info"),
    "search": ("gemmtune.cli.search", "search"),
    "bench": ("gemmtune.cli.bench", "bench"),
    "export": ("gemmtune.cli.transfer", "export"),
    "import": ("gemmtune.cli.transfer", "import_"),
    "cache": ("gemmtune.cli.cache", "cache"),
    "kernel": ("gemmtune.cli.kernel", "kernel"),
}


class LazyGroup(click.Group):
    """Resolves subcommands on demand; a command whose module is absent is not listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        import importlib.util

        return [n for n, (mod, _) in _COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        import importlib

        if name not in _COMMANDS:
            return None
        mod_name, attr = _COMMANDS[name]
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:
                return None
            raise
        return getattr(mod, attr)

    def invoke(self, ctx: click.Context):
        from ..errors import GemmtuneError

        try:
            return super().invoke(ctx)
        except GemmtuneError as e:
            # click prints a ClickException as "Error: <message>" and exits with its code.
            err = click.ClickException(e.message)
            err.exit_code = e.exit_code
            raise err from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--cache-dir", type=click.Path(file_okay=False), envvar=ENV_CACHE_DIR,
              help=f"Where tunings, studies and compiled kernels live (env {ENV_CACHE_DIR}; "
                   "default: the user cache dir).")
@click.version_option(__version__, prog_name="gemmtune")
@click.pass_context
def cli(ctx: click.Context, cache_dir: str | None) -> None:
    """Tune and run BLIS-style GEMM kernels for this machine."""
    ctx.obj = App(cache_dir=cache_dir)
    ctx.with_resource(ctx.obj.warnings_to_console())


def main() -> None:
    cli(prog_name="gemmtune")
