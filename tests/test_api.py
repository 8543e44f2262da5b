"""The public API and the purity of the core."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import json
import pkgutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import dedup
import dedup.core

EXPECTED_ALL = [
    "SCHEMA_VERSION",
    "Analysis",
    "CleanSummary",
    "ConfigError",
    "DecodeError",
    "DedupError",
    "DuplicateIdError",
    "InputConfig",
    "InputError",
    "NormalizeConfig",
    "OutputError",
    "ScanConfig",
    "ScanSummary",
    "analyze",
    "clean",
    "scan",
    "to_tables",
]
# Modules that a map task of any engine must be able to import without these.
HEAVY = ["pyarrow", "typer", "ray", "duckdb"]
PURE = ["dedup.config", "dedup.errors"]


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def test_all_is_sorted() -> None:
    assert dedup.__all__ == sorted(dedup.__all__, key=_isort_key)


def test_all_is_the_expected_public_api() -> None:
    assert dedup.__all__ == EXPECTED_ALL


def test_every_public_name_resolves() -> None:
    for name in dedup.__all__:
        assert getattr(dedup, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from dedup import *", namespace)
    assert set(EXPECTED_ALL) <= set(namespace)


def test_no_public_name_outside_all() -> None:
    # Public names are resolved lazily, so the namespace itself holds only
    # private helpers and submodules; dir() lists exactly the public API.
    extra = [
        name
        for name, value in vars(dedup).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    assert set(extra) <= set(dedup.__all__)
    assert dir(dedup) == sorted(dedup.__all__)
    with pytest.raises(AttributeError):
        _ = dedup.not_a_public_name


def test_no_public_name_is_shadowed_by_a_submodule() -> None:
    """Importing a submodule sets it on the package: `dedup.clean` must stay the function."""
    for module in pkgutil.iter_modules(dedup.__path__, "dedup."):
        importlib.import_module(module.name)
    for name in dedup.__all__:
        assert not isinstance(getattr(dedup, name), types.ModuleType), name


def test_version_matches_the_distribution() -> None:
    assert dedup.__version__ == importlib.metadata.version("dedup")


def test_error_tree() -> None:
    assert issubclass(dedup.DedupError, Exception)
    for error in (dedup.ConfigError, dedup.InputError, dedup.OutputError):
        assert error.__bases__ == (dedup.DedupError,)
    for error in (dedup.DecodeError, dedup.DuplicateIdError):
        assert error.__bases__ == (dedup.InputError,)
    assert dedup.DecodeError("x: bad", "x").path == "x"


def _core_modules() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(dedup.core.__path__, "dedup.core.")]
    assert "dedup.core.pipeline" in found
    return ["dedup.core", *found, *PURE]


def test_core_imports_no_heavy_module() -> None:
    """Importing the core, as a map task does, loads no pyarrow, typer or engine."""
    script = textwrap.dedent(
        """
        import importlib, json, sys
        for name in json.loads(sys.argv[1]):
            importlib.import_module(name)
        tops = {m.split(".")[0] for m in sys.modules}
        print(json.dumps({
            "heavy": sorted(tops & set(json.loads(sys.argv[2]))),
            "dedup": sorted(m for m in sys.modules if m.split(".")[0] == "dedup"),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(_core_modules()), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    outside = [m for m in loaded["dedup"] if m not in {"dedup", *_core_modules()}]
    assert loaded["heavy"] == [], f"{loaded['heavy']} loaded, along with {outside}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_core_sources_import_only_the_core() -> None:
    """Each pure module's own imports: no heavy library, no dedup module outside the core."""
    for name in _core_modules():
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        for imported in _imports(Path(spec.origin)):
            top = imported.split(".")[0]
            assert top not in HEAVY, f"{name} imports {imported}"
            if top == "dedup":
                assert imported.startswith("dedup.core") or imported in PURE, (
                    f"{name} imports {imported}"
                )
