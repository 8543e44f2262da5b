"""`dedup report`, `show` and `passages` through typer's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from dedup.cli import app

APPEAL = "A Message from The Moscow Times:"


def _run(args: list[str], **env: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an escaping exception fails the test (a user's traceback)."""
    result = CliRunner().invoke(app, args, env=env or None)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}: a user sees a traceback")
    return result.exit_code, result.stdout, result.stderr


def test_report_writes_the_page(tmp_path: Path, seeds_out: Path, seeds_dir: Path) -> None:
    page = tmp_path / "report.html"
    code, stdout, stderr = _run(
        ["report", str(seeds_out), "--html", str(page), "--docs", str(seeds_dir)]
    )
    assert code == 0, stderr
    assert stdout == f"wrote {page}: 5 of 5 documents shown\n"
    assert APPEAL in page.read_text(encoding="utf-8")


def test_report_reads_the_inputs_the_scan_recorded(tmp_path: Path, seeds_out: Path) -> None:
    page = tmp_path / "report.html"
    code, _, stderr = _run(["report", str(seeds_out), "--html", str(page)])
    assert code == 0, stderr
    assert APPEAL in page.read_text(encoding="utf-8")


def test_report_samples_with_max_docs(tmp_path: Path, seeds_out: Path, seeds_dir: Path) -> None:
    page = tmp_path / "report.html"
    args = ["report", str(seeds_out), "--html", str(page), "--docs", str(seeds_dir)]
    code, stdout, stderr = _run([*args, "--max-docs", "2"])
    assert code == 0, stderr
    assert stdout == f"wrote {page}: 2 of 5 documents shown (a sample)\n"


def test_report_errors_are_one_line(tmp_path: Path, seeds_out: Path, seeds_dir: Path) -> None:
    page = str(tmp_path / "report.html")
    for args, needle in [
        (["report", str(tmp_path), "--html", page, "--docs", str(seeds_dir)], "missing"),
        (
            ["report", str(seeds_out), "--html", page, "--docs", str(seeds_dir), "--max-docs", "0"],
            "max_docs",
        ),
    ]:
        code, stdout, stderr = _run(args)
        assert code == 1, stdout
        assert stderr.startswith("dedup: error: ")
        assert needle in stderr
        assert stderr.count("\n") == 1


def test_show_prints_the_document_and_its_spans(seeds_out: Path, seeds_dir: Path) -> None:
    doc = sorted(p.name for p in seeds_dir.iterdir())[0]
    code, stdout, stderr = _run(["show", str(seeds_out), doc, "--docs", str(seeds_dir)])
    assert code == 0, stderr
    assert stdout.startswith(doc)
    assert "boilerplate spans" in stdout
    text = (seeds_dir / doc).read_text(encoding="utf-8")
    assert text.splitlines()[-1].strip() in stdout
    assert "\x1b[" not in stdout, "no colour when not on a terminal"


def test_show_highlights_boilerplate_in_colour(seeds_out: Path, seeds_dir: Path) -> None:
    doc = sorted(p.name for p in seeds_dir.iterdir())[0]
    code, stdout, _ = _run(
        ["show", str(seeds_out), doc, "--docs", str(seeds_dir)], FORCE_COLOR="1", TERM="xterm"
    )
    assert code == 0
    # Black on a background colour (SGR 30;4x or 30;10x), then plain text again.
    before_appeal = stdout.split(APPEAL)[0].rsplit("\x1b[", 1)[1]
    assert re.match(r"30;(4|10)\dm$", before_appeal), before_appeal
    body = "Russia and U.S. May Discuss Syria on Thursday"
    assert f"\n{body}\n" in stdout, "unique text is plain"


def test_show_unknown_id_is_one_line(seeds_out: Path, seeds_dir: Path) -> None:
    code, _, stderr = _run(["show", str(seeds_out), "nope.txt", "--docs", str(seeds_dir)])
    assert code == 1
    assert stderr.startswith("dedup: error: nope.txt: no such document")
    assert stderr.count("\n") == 1


def test_passages_lists_the_most_shared_first(seeds_out: Path) -> None:
    code, stdout, stderr = _run(["passages", str(seeds_out)], COLUMNS="120")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].split() == ["#", "documents", "occurrences", "passage", "text"]
    assert lines[1].split()[:3] == ["1", "5", "5"]
    assert APPEAL in lines[1]
    assert len(lines) == 5
    code, stdout, _ = _run(["passages", str(seeds_out), "-n", "1"], COLUMNS="120")
    assert code == 0
    assert stdout.splitlines()[-1].strip() == "1 of 4 passages"
