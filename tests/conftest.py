"""Shared fixtures: the repository's seed articles, their gold labels, a scan of them."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import sysconfig
from pathlib import Path

import pytest

from dedup import ScanConfig, scan

TESTS = Path(__file__).resolve().parent
SEEDS = TESTS.parent / "seeds"
GOLD = TESTS / "data" / "seeds.gold.jsonl"


def _writable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    # The seed files are read-only in the repository; tests edit and add files.
    for path in dst.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dst


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seeds/ folder: five articles of one news site."""
    if not SEEDS.is_dir():
        pytest.fail(f"{SEEDS}: seeds folder missing from the repository")
    return SEEDS


@pytest.fixture
def seeds_copy(tmp_path: Path, seeds_dir: Path) -> Path:
    """A writable copy of seeds/ that a test may change."""
    return _writable_copy(seeds_dir, tmp_path / "seeds")


@pytest.fixture(scope="session")
def gold() -> dict[str, list[tuple[int, int]]]:
    """Gold boilerplate spans per document id (code-point offsets, half-open)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            spans[row["doc"]] = [(int(s), int(e)) for s, e in row["boilerplate"]]
    return spans


@pytest.fixture(scope="session")
def seeds_out(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    """Output folder of one default scan of seeds/, shared by read-only tests."""
    out = tmp_path_factory.mktemp("scan") / "out"
    scan([seeds_dir], out, ScanConfig())
    return out


def console_script() -> str:
    """The installed `dedup` console script, as a user runs it (tests import this)."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("dedup", path=scripts) or shutil.which(
        "dedup", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail(f"no dedup console script in {scripts}; run pip install -e .")
    return found
