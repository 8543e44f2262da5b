"""The throughput and long-line benchmarks run end to end on tiny inputs (no timing is checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"


def test_throughput_smoke_prints_the_table() -> None:
    # Generous timeout: a fresh machine compiles the numba kernels first.
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--skip-slow"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"^\| method \| input \| docs \| MB \|", out, re.MULTILINE)
    floor = re.search(r"^\| floor [^|]*\| corpus \| (\d+) \|", out, re.MULTILINE)
    assert floor and int(floor.group(1)) > 0, out
    assert re.search(r"^\| dedup scan, 1 worker \| corpus \| \d+ \|", out, re.MULTILINE), out
    assert "skipped (--skip-slow)" in out
    assert "FAILED" not in out


def test_results_sections_are_replaced_in_place(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from results_md import replace_section
    finally:
        sys.path.remove(str(SCRIPT.parent))
    path = tmp_path / "RESULTS.md"
    replace_section("quality", "Quality", "| a |", path)
    replace_section("speed", "Speed", "| b |", path)
    replace_section("quality", "Quality", "| c |\nnew", path)
    text = path.read_text(encoding="utf-8")
    assert text.count("## Quality") == 1 and text.count("## Speed") == 1
    assert "| a |" not in text and "| c |\nnew" in text and "| b |" in text
    assert text.index("| c |") < text.index("## Speed")


def test_long_line_benchmark_smoke_prints_the_table() -> None:
    """benchmarks/long_line.py runs; linear scaling itself is shown in RESULTS.md."""
    script = SCRIPT.parent / "long_line.py"
    done = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^\| (text|jsonl\.gz) \| [\d.]+ \| [\d.]+ \|", done.stdout, re.MULTILINE)
    assert rows == ["text", "text", "jsonl.gz", "jsonl.gz"], done.stdout


def test_scan_stages_smoke_times_every_step(seeds_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT.parent / "scan_stages.py"),
            "--corpus",
            str(seeds_dir),
            "--repeat",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for step in (
        "content_clusters",
        "find_runs (twice)",
        "join_variants",
        "analyze",
        "index tables",
    ):
        row = re.search(
            rf"^\| [^|]*{re.escape(step)}[^|]* \| ([0-9.]+) \| ([0-9.]+) \| ([0-9. ]+) \|$",
            done.stdout,
            re.MULTILINE,
        )
        assert row, (step, done.stdout)
        assert len(row.group(3).split()) == 2  # one time per run
