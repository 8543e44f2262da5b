"""Progress on stderr: drawn on a terminal, silent in a pipe or with --quiet, tables unchanged."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import console_script
from dedup import ScanConfig, scan
from dedup.progress import (
    TerminalProgress,
    Tick,
    format_tick,
    no_progress,
    terminal_progress,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


# -- the line format ---------------------------------------------------------------------------


def test_a_running_step_shows_counts_rate_and_time_left() -> None:
    line = format_tick(Tick("read", 3, 10, 100_000_000, 400_000_000), elapsed=10.0)
    assert line == "read     3/10 files  100.0/400.0 MB  10.0 MB/s  0:30 left"


def test_small_sizes_are_shown_in_kilobytes() -> None:
    line = format_tick(Tick("read", 1, 2, 5_000, 10_000), elapsed=2.0)
    assert "5.0/10.0 kB" in line
    assert "0.00 MB/s" in line
    assert line.endswith("0:02 left")


def test_time_left_falls_back_to_files_and_to_unknown() -> None:
    assert format_tick(Tick("read", 1, 4), elapsed=60.0).endswith("3:00 left")
    assert format_tick(Tick("read", 1, 0, 10, 0), elapsed=1.0).endswith("--:-- left")


def test_a_step_without_ticks_in_between_shows_its_elapsed_time() -> None:
    assert format_tick(Tick("analyse", files_total=7), elapsed=75.0) == (
        "analyse  7 files, 1:15 elapsed"
    )


def test_a_finished_step_says_what_it_did_and_how_fast() -> None:
    done = Tick("read", 10, 10, 406_000_000, 406_000_000, finished=True)
    assert format_tick(done, elapsed=29.0) == "read     10 files, 406.0 MB in 0:29 (14.0 MB/s)"
    assert format_tick(Tick("write", 4, 4, finished=True), 3725.0) == (
        "write    4 files in 1:02:05"
    )


# -- the renderer ------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _lines(drawn: str) -> list[str]:
    """What a terminal shows: each \\r\\x1b[K starts the line again."""
    return [part for part in drawn.replace("\n", "").split("\r\x1b[K") if part]


def test_ticks_closer_than_the_interval_are_not_drawn() -> None:
    out, clock = io.StringIO(), _Clock()
    reporter = TerminalProgress(out, interval=0.5, heartbeat=None, clock=clock)
    reporter(Tick("read", 0, 3, 0, 300))
    clock.now += 0.1
    reporter(Tick("read", 1, 3, 100, 300))  # too soon: skipped
    clock.now += 0.5
    reporter(Tick("read", 2, 3, 200, 300))
    clock.now += 0.1
    reporter(Tick("read", 3, 3, 300, 300, finished=True))  # a last tick is always drawn
    reporter.close()
    drawn = _lines(out.getvalue())
    assert [line.split()[1] for line in drawn] == ["3", "2/3", "3"]
    assert out.getvalue().endswith("(0.00 MB/s)\n")


def test_each_step_gets_its_own_line_and_close_ends_an_open_one() -> None:
    out, clock = io.StringIO(), _Clock()
    reporter = TerminalProgress(out, heartbeat=None, clock=clock)
    reporter(Tick("read", 0, 1))
    reporter(Tick("read", 1, 1, finished=True))
    reporter(Tick("analyse", files_total=1))
    reporter.close()
    text = out.getvalue()
    assert text.count("\n") == 2
    assert text.endswith("analyse  1 files, 0:00 elapsed\n")


def test_the_heartbeat_redraws_a_step_that_sends_no_ticks() -> None:
    out = io.StringIO()
    reporter = TerminalProgress(out, heartbeat=0.02)
    reporter(Tick("analyse", files_total=1))
    time.sleep(0.2)
    reporter.close()
    assert out.getvalue().count("analyse") >= 3


@contextmanager
def _pty_writer() -> Iterator[tuple[io.TextIOWrapper, int]]:
    main, side = os.openpty()
    stream = open(side, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        yield stream, main
    finally:
        stream.close()
        os.close(main)


def test_terminal_progress_draws_only_on_a_terminal_and_not_when_quiet() -> None:
    with terminal_progress(stream=io.StringIO()) as progress:
        assert progress is no_progress
    with _pty_writer() as (tty, _), terminal_progress(quiet=True, stream=tty) as progress:
        assert progress is no_progress
    with _pty_writer() as (tty, _), terminal_progress(stream=tty) as progress:
        assert isinstance(progress, TerminalProgress)


# -- the runner --------------------------------------------------------------------------------


def test_scan_reports_each_step_and_writes_the_same_tables(
    tmp_path: Path, seeds_dir: Path, seeds_out: Path
) -> None:
    ticks: list[Tick] = []
    out = tmp_path / "out"
    scan([seeds_dir], out, ScanConfig(), progress=ticks.append)
    steps = [t.step for t in ticks if t.finished]
    assert steps == ["read", "analyse", "write"]
    read = [t for t in ticks if t.step == "read"]
    size = sum(p.stat().st_size for p in seeds_dir.iterdir())
    assert read[0] == Tick("read", 0, 5, 0, size)
    assert read[-1] == Tick("read", 5, 5, size, size, finished=True)
    done = [(t.files_done, t.bytes_done) for t in read]
    assert done == sorted(done), "progress only goes forward"
    for name in ("spans", "documents", "passages", "errors"):
        written = (out / f"{name}.parquet").read_bytes()
        assert written == (seeds_out / f"{name}.parquet").read_bytes(), name


# -- the command line, as a user runs it ---------------------------------------------------------


def _run_piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run dedup with stdout and stderr captured: what a script or CI log sees."""
    return subprocess.run(
        [console_script(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _run_on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run dedup with stderr on a pseudo-terminal: (exit code, stdout, what the terminal got)."""
    main, side = os.openpty()
    proc = subprocess.Popen(
        [console_script(), *args], stdout=subprocess.PIPE, stderr=side, stdin=subprocess.DEVNULL
    )
    os.close(side)
    drawn = b""
    deadline = time.monotonic() + 120
    # Read while it runs: a full pseudo-terminal buffer would block the child.
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            drawn += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    stdout = proc.communicate(timeout=60)[0]
    return proc.returncode, stdout.decode(), drawn.decode()


def test_progress_appears_on_a_terminal_and_not_in_a_pipe(
    tmp_path: Path, seeds_dir: Path, seeds_out: Path
) -> None:
    code, stdout, terminal = _run_on_a_terminal(["scan", str(seeds_dir), "-o", str(tmp_path / "t")])
    assert code == 0, terminal
    assert "documents:        5" in stdout
    assert "\r\x1b[Kread     5 files" in terminal
    assert "MB/s" in terminal
    for step in ("analyse  5 files in ", "write    4 files in "):
        assert step in terminal
    assert "\x1b[K" not in stdout, "progress goes to stderr only"

    piped = _run_piped(["scan", str(seeds_dir), "-o", str(tmp_path / "p")])
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    for name in ("spans", "documents", "passages", "errors"):
        table = f"{name}.parquet"
        expected = (seeds_out / table).read_bytes()
        assert (tmp_path / "t" / table).read_bytes() == expected, name
        assert (tmp_path / "p" / table).read_bytes() == expected, name


def test_quiet_silences_progress_on_a_terminal(tmp_path: Path, seeds_dir: Path) -> None:
    code, stdout, terminal = _run_on_a_terminal(
        ["scan", str(seeds_dir), "-o", str(tmp_path / "q"), "--quiet"]
    )
    assert code == 0, terminal
    assert "documents:        5" in stdout
    assert terminal == ""


def test_clean_shows_progress_on_a_terminal_and_not_in_a_pipe(
    tmp_path: Path, seeds_out: Path
) -> None:
    code, stdout, terminal = _run_on_a_terminal(
        ["clean", str(seeds_out), "--out", str(tmp_path / "t")]
    )
    assert code == 0, terminal
    assert "clean    5 files" in terminal
    assert "\x1b[K" not in stdout
    piped = _run_piped(["clean", str(seeds_out), "--out", str(tmp_path / "p")])
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    written = (tmp_path / "t" / "clean.parquet").read_bytes()
    assert written == (tmp_path / "p" / "clean.parquet").read_bytes()


def test_add_shows_progress_on_a_terminal_and_not_in_a_pipe(
    tmp_path: Path, seeds_dir: Path
) -> None:
    index = tmp_path / "index"
    scan([seeds_dir], index, ScanConfig())
    for name in ("t", "p"):
        (tmp_path / name).mkdir()
        text = (sorted(seeds_dir.iterdir())[0]).read_text(encoding="utf-8")
        (tmp_path / name / f"new_{name}.txt").write_text(text + "\nA new closing line.\n", "utf-8")
    code, _, terminal = _run_on_a_terminal(["add", str(index), str(tmp_path / "t")])
    assert code == 0, terminal
    assert "read     1 files" in terminal
    assert "analyse  1 files in " in terminal
    piped = _run_piped(["add", str(index), str(tmp_path / "p")])
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
