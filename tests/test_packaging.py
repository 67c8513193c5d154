"""pyproject.toml lists every package, so a non-editable install ships all of them."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "gemmtune").rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["gemmtune.configs"] == "configs"


def test_default_and_shape_files_are_package_data():
    from importlib import resources

    defaults = resources.files("gemmtune.configs").joinpath("defaults")
    assert {p.name for p in defaults.iterdir() if p.name.endswith(".json")} >= {"avx2.json", "generic.json"}


def test_type_hints_are_shipped():
    """PEP 561: py.typed in the package and in its package data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in config["package-data"]["gemmtune"]
    assert (ROOT / "gemmtune" / "py.typed").is_file()
