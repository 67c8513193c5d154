"""Shell completion through click's ``_GEMMTUNE_COMPLETE``, as docs/guide.md tells."""

from __future__ import annotations

from click.testing import CliRunner

from gemmtune.cli import cli
from gemmtune.shapes import suite_names


def complete(words: str) -> list[str]:
    """What bash would offer after ``words`` (the last word is being completed)."""
    parts = words.split(" ")
    env = {"_GEMMTUNE_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(parts) - 1)}
    result = CliRunner(env=env).invoke(cli, [], prog_name="gemmtune", catch_exceptions=False)
    # bash_complete prints "type,value" per item.
    return [line.split(",", 1)[1] for line in result.output.splitlines() if "," in line]


def test_commands_and_suite_names_complete():
    assert {"search", "bench", "cache", "kernel"} <= set(complete("gemmtune "))
    assert "transformer" in complete("gemmtune search --shapes tr")
    shipped = set(suite_names())
    assert shipped >= {"mlp", "skinny", "transformer"}
    offered = set(complete("gemmtune bench --shapes "))
    assert shipped <= offered          # every shipped suite, and files
    assert "skinny" not in complete("gemmtune search --shapes tr")


def test_bash_script_names_the_variable():
    result = CliRunner(env={"_GEMMTUNE_COMPLETE": "bash_source"}).invoke(
        cli, [], prog_name="gemmtune", catch_exceptions=False)
    assert "_GEMMTUNE_COMPLETE=bash_complete" in result.output


def test_shapes_help_lists_the_shipped_suites():
    for command in ("search", "bench"):
        out = CliRunner().invoke(cli, [command, "--help"]).output
        text = " ".join(out.split("--shapes", 1)[1].split("--dtype", 1)[0].split())
        for name in suite_names():
            assert name in text
