"""The ``gemmtune`` command line: a root group, one module per command.

Commands import numba, optuna and numpy inside their bodies, so ``gemmtune --help`` is instant.
"""

from __future__ import annotations

import io
import os
from typing import Any

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
    """The ``gemmtune`` command; a stdout that cannot be written (``> /dev/full``) is one
    sentence and exit status 1, whichever command wrote."""
    import sys

    # OpenBLAS's thread timeout was set by ``import gemmtune``, before any command loads
    # numpy (gemmtune/spin.py).
    stdout = _WatchedStdout.install()
    code: Any = 0
    try:
        cli(prog_name="gemmtune")
    except SystemExit as e:
        code = e.code
    except OSError as e:
        if stdout is None or stdout.failed is None:
            raise  # not stdout's: a real failure keeps its traceback
        _stdout_failed(stdout.failed)
    try:
        sys.stdout.flush()  # now, not in Python's flush at exit, which would print a traceback
    except OSError as e:
        _stdout_failed(e)
    sys.exit(code)


class _WatchedStdout(io.TextIOWrapper):
    """sys.stdout, remembering the error of a write that failed (click, rich and print all
    write through it), so ``main`` can tell stdout's errors from any other OSError."""

    failed: OSError | None = None

    @classmethod
    def install(cls) -> "_WatchedStdout | None":
        import sys

        old = sys.stdout
        if type(old) is not io.TextIOWrapper:  # already replaced (a test runner): leave it
            return None
        try:
            old.flush()
            new = cls(old.buffer, encoding=old.encoding, errors=old.errors,
                      line_buffering=old.line_buffering, write_through=old.write_through)
            old.detach()
        except (OSError, ValueError, AttributeError):
            return None
        sys.stdout = new
        return new

    def write(self, s: str) -> int:
        try:
            return super().write(s)
        except OSError as e:
            self.failed = e
            raise

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as e:
            self.failed = e
            raise


def _stdout_failed(e: OSError) -> None:
    import sys

    # Unwritten text may still be buffered: send it to /dev/null, not to a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    click.echo(f"Error: Cannot write to standard output: {e.strerror or e}.", err=True)
    sys.exit(1)
