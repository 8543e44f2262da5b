"""Without the ray extra: nothing imports Ray, and --engine ray says what to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.errors import ConfigError
from dedup.ray_engine import RaySettings


def test_engine_ray_without_ray_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeds_dir: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    result = CliRunner().invoke(
        app, ["scan", str(seeds_dir), "--out", str(tmp_path / "out"), "--engine", "ray"]
    )
    assert result.exit_code == 1
    assert "pip install 'dedup[ray]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark"], "--engine must be embedded or ray"),
        (["--address", "auto"], "--address needs --engine ray"),
        (["--object-store-mb", "500"], "--object-store-mb needs --engine ray"),
        (["--spill-dir", "spill"], "--spill-dir needs --engine ray"),
        (["--engine", "ray", "--object-store-mb", "0"], "--object-store-mb must be positive"),
        (["--engine", "ray", "--object-store-mb", "nan"], "--object-store-mb must be positive"),
        (
            ["--engine", "ray", "--address", "auto", "--spill-dir", "spill"],
            "with --address the cluster's own settings apply",
        ),
    ],
)
def test_engine_options_are_checked(
    tmp_path: Path, seeds_dir: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["scan", str(seeds_dir), "--out", str(tmp_path), *args])
    assert result.exit_code == 1
    assert message in result.stderr


def test_the_local_instances_store_and_spill_folder_reach_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeds_dir: Path
) -> None:
    import dedup.ray_engine

    given: list[RaySettings] = []

    def fake_scan_ray(*args: object) -> None:
        given.append(args[5])  # type: ignore[arg-type]
        raise ConfigError("stop here")

    monkeypatch.setattr(dedup.ray_engine, "scan_ray", fake_scan_ray)
    result = CliRunner().invoke(
        app,
        [
            "scan",
            str(seeds_dir),
            "--out",
            str(tmp_path / "out"),
            "--engine",
            "ray",
            "--workers",
            "2",
            "--object-store-mb",
            "300",
            "--spill-dir",
            str(tmp_path / "spill"),
        ],
    )
    assert result.exit_code == 1
    assert "stop here" in result.stderr
    assert given == [
        RaySettings(num_cpus=2, object_store_memory=300 << 20, spill_dir=str(tmp_path / "spill"))
    ]


def test_nothing_imports_ray_unless_asked() -> None:
    script = (
        "import sys, json, dedup.cli, dedup.runner, dedup.ray_engine, dedup.ray_engine.stages; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'ray')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_cpus": 0}, "num_cpus must be at least 1"),
        ({"partitions": 0}, "partitions must be at least 1"),
        ({"partitions": 1 << 31}, "partitions must be below 2\\*\\*31"),
        ({"max_driver_edges": -1}, "max_driver_edges"),
        ({"address": " "}, "--address"),
        ({"address": "auto", "num_cpus": 2}, "local Ray instance"),
        ({"address": "auto", "spill_dir": "spill"}, "local Ray instance"),
    ],
)
def test_ray_settings_are_checked_when_built(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RaySettings(**kwargs)  # type: ignore[arg-type]
