"""Shared fixtures: the repository's seed articles, their gold labels, a scan of them."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import sysconfig
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dedup import ScanConfig, scan

TESTS = Path(__file__).resolve().parent
SEEDS = TESTS.parent / "seeds"
GOLD = TESTS / "data" / "seeds.gold.jsonl"


class BytesTexts(list[str]):
    """Texts that also give their UTF-8 bytes (`core.text.Utf8Texts`), as spilled texts do."""

    def utf8_range(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        encoded = [t.encode("utf-8", "surrogatepass") for t in self[lo:hi]]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


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


BlockWatch = Callable[[object, str, tuple[str, ...]], list[set[str]]]


@pytest.fixture
def watch_block_release(monkeypatch: pytest.MonkeyPatch) -> BlockWatch:
    """`watch(module, name, fields)`: which block arrays are alive at each `find_runs`.

    `module.name` is a function that makes `BlockHashes` (the hashing, or
    an engine's collect step); weak references to its `fields` are taken
    as it returns. The returned list gets, at each call of the labelling's
    `find_runs`, the set of those fields still alive.
    """
    from dedup.core import pipeline

    def watch(module: object, name: str, fields: tuple[str, ...]) -> list[set[str]]:
        refs: dict[str, weakref.ref[np.ndarray]] = {}
        made = getattr(module, name)

        def making(*args: object, **kwargs: object) -> object:
            blocks = made(*args, **kwargs)
            for field in fields:
                refs[field] = weakref.ref(getattr(blocks, field))
            return blocks

        alive: list[set[str]] = []
        found = pipeline.find_runs

        def find_runs(*args: object, **kwargs: object) -> object:
            alive.append({field for field, ref in refs.items() if ref() is not None})
            return found(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(module, name, making)
        monkeypatch.setattr(pipeline, "find_runs", find_runs)
        return alive

    return watch
