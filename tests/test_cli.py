"""The command line, through typer's CliRunner, and one real run of the console script."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import dedup.cli
from conftest import console_script
from dedup import InputConfig, NormalizeConfig, ScanConfig
from dedup.cli import app

# The tables, and the index that `dedup add`, `check` and `serve` use.
FILES = ["documents.parquet", "errors.parquet", "index", "passages.parquet", "spans.parquet"]
BOX = re.compile(r"[│╭╮╰╯─]")


def _run(args: list[str], **env: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an exception other than SystemExit fails the test.

    CliRunner swallows exceptions, so "Traceback" never reaches its output:
    an exception escaping the CLI is what a user would see as a traceback.
    """
    result = CliRunner().invoke(app, args, env=env or None)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}: a user sees a traceback")
    return result.exit_code, result.stdout, result.stderr


def test_scan_prints_the_summary(tmp_path: Path, seeds_dir: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _run(["scan", str(seeds_dir), "--out", str(out)])
    assert code == 0, stderr
    assert stderr == ""
    assert f"wrote {out}/" in stdout
    assert re.search(r"^documents:\s+5$", stdout, re.MULTILINE)
    assert re.search(r"^near-duplicates:\s+0 clusters, 0 documents$", stdout, re.MULTILINE)
    assert re.search(r"^passages:\s+4$", stdout, re.MULTILINE)
    top = stdout.split("top passages", 1)[1].splitlines()[1:]
    assert re.match(r"\s+5\s+A Message from The Moscow Times: Dear readers", top[0])
    assert len(top) == 4
    assert sorted(p.name for p in out.iterdir()) == FILES


def test_options_reach_the_config(tmp_path: Path, seeds_dir: Path) -> None:
    out = tmp_path / "out"
    args = ["scan", str(seeds_dir), "-o", str(out), "--block-mode", "paragraph", "--ngram", "3"]
    args += ["--num-perm", "64", "--seed", "9", "--passage-threshold", "0.6"]
    args += ["--doc-threshold", "0.9", "--min-docs", "3", "--no-nfkc", "--no-casefold"]
    args += ["--keep-punctuation", "--keep-digits"]
    code, _, stderr = _run(args)
    assert code == 0, stderr
    meta = pq.read_schema(out / "spans.parquet").metadata
    assert ScanConfig.from_json(meta[b"dedup.config"].decode()) == ScanConfig(
        block_mode="paragraph",
        ngram=3,
        num_perm=64,
        seed=9,
        passage_threshold=0.6,
        doc_threshold=0.9,
        min_docs=3,
        normalize=NormalizeConfig(False, False, False, False),
    )


def _expected_defaults() -> dict[str, str]:
    cfg, norm, inputs = ScanConfig(), NormalizeConfig(), InputConfig()

    def flag(on: str, off: str, value: bool) -> str:
        return on if value else off

    return {
        "--force": "no-force",
        "--input-format": inputs.input_format,
        "--text-field": inputs.text_field,
        "--id-field": inputs.id_field,
        "--on-decode-error": inputs.on_decode_error,
        "--block-mode": cfg.block_mode,
        "--ngram": str(cfg.ngram),
        "--num-perm": str(cfg.num_perm),
        "--seed": str(cfg.seed),
        "--passage-threshold": str(cfg.passage_threshold),
        "--doc-threshold": str(cfg.doc_threshold),
        "--min-docs": str(cfg.min_docs),
        "--nfkc": flag("nfkc", "no-nfkc", norm.unicode_nfkc),
        "--casefold": flag("casefold", "no-casefold", norm.casefold),
        "--strip-punctuation": flag(
            "strip-punctuation", "keep-punctuation", norm.strip_punctuation
        ),
        "--mask-digits": flag("mask-digits", "keep-digits", norm.mask_digits),
    }


@pytest.mark.parametrize("columns", ["80", "200"])
def test_scan_help_shows_every_option_with_its_default(columns: str) -> None:
    """At a common 80-column terminal too: no option name may be cut short."""
    code, stdout, _ = _run(["scan", "--help"], COLUMNS=columns)
    assert code == 0
    # Undo the help box: wrapped help text joins up again once borders and runs
    # of spaces are gone, because only the last column wraps.
    # Help text wrapped at a hyphen ("strip-\n punctuation") joins up again too.
    flat = re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(BOX.sub(" ", stdout).split()))
    assert re.search(r"--out <path> [^\[]*\[required\]", flat), stdout
    for option, default in _expected_defaults().items():
        pattern = rf"{re.escape(option)}\b[^\[]*\[default: {re.escape(default)}\]"
        assert re.search(pattern, flat), f"{option} [default: {default}] missing in:\n{stdout}"


def _missing(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    return [str(tmp / "nope")], str(tmp / "nope")


def _empty(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    (tmp / "empty").mkdir()
    return [str(tmp / "empty")], str(tmp / "empty")


def _existing_output(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    (tmp / "out").mkdir()
    return [str(seeds)], str(tmp / "out")


def _output_is_a_file(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    (tmp / "out").write_text("not a folder", encoding="utf-8")
    return [str(seeds)], str(tmp / "out")


def _output_under_a_file(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    (tmp / "file.txt").write_text("a file, not a folder", encoding="utf-8")
    return [str(seeds), "--out", str(tmp / "file.txt" / "out")], str(tmp / "file.txt")


def _not_utf8(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "good.txt").write_text("fine text\n", encoding="utf-8")
    (tmp / "docs" / "latin1.txt").write_bytes("caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    return [str(tmp / "docs"), "--on-decode-error", "fail"], str(tmp / "docs" / "latin1.txt")


def _duplicate_ids(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    for folder in ("a", "b"):
        (tmp / folder).mkdir()
        (tmp / folder / "x.txt").write_text(f"text of {folder}\n", encoding="utf-8")
    return [str(tmp / "a"), str(tmp / "b")], "x.txt"


def _doc_threshold(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    return [str(seeds), "--doc-threshold", "1.5"], "--doc-threshold"


def _block_mode(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    return [str(seeds), "--block-mode", "foo"], "--block-mode"


def _min_docs(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    return [str(seeds), "--min-docs", "1"], "--min-docs"


def _num_perm(tmp: Path, seeds: Path) -> tuple[list[str], str]:
    return [str(seeds), "--num-perm", "0"], "--num-perm"


ERRORS: dict[str, Callable[[Path, Path], tuple[list[str], str]]] = {
    "missing path": _missing,
    "empty folder": _empty,
    "existing output": _existing_output,
    "output is a file": _output_is_a_file,
    "output under a file": _output_under_a_file,
    "not UTF-8": _not_utf8,
    "duplicate ids": _duplicate_ids,
    "doc threshold 1.5": _doc_threshold,
    "block mode foo": _block_mode,
    "min docs 1": _min_docs,
    "num perm 0": _num_perm,
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_naming_the_culprit(tmp_path: Path, seeds_dir: Path, case: str) -> None:
    args, culprit = ERRORS[case](tmp_path, seeds_dir)
    out = str(tmp_path / "out")
    if "--out" not in args:
        args += ["--out", out]
    code, stdout, stderr = _run(["scan", *args])
    assert code != 0
    assert "Traceback" not in stdout + stderr
    assert stdout == ""
    assert stderr.startswith("dedup: error: ")
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert culprit in stderr
    if case not in ("existing output", "output is a file"):
        assert not Path(out).exists()


def test_folder_of_empty_files_is_no_traceback(tmp_path: Path) -> None:
    """Empty documents are valid input ("an empty document gets no span")."""
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "docs" / name).write_bytes(b"")
    code, stdout, stderr = _run(["scan", str(tmp_path / "docs"), "--out", str(tmp_path / "out")])
    assert code == 0, stderr
    assert re.search(r"^documents:\s+2$", stdout, re.MULTILINE)


def test_file_name_not_utf8_is_no_traceback(tmp_path: Path, seeds_dir: Path) -> None:
    """A legacy (say Latin-1) file name: scanned under an escaped id, or a one-line error."""
    docs = tmp_path / "docs"
    shutil.copytree(seeds_dir, docs)
    try:
        (docs / "caf\udce9.txt").write_bytes(b"Un caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet.\n")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    code, stdout, stderr = _run(["scan", str(docs), "--out", str(tmp_path / "out")])
    if code == 0:
        assert re.search(r"^documents:\s+6$", stdout, re.MULTILINE)
    else:
        assert stderr.startswith("dedup: error: ") and stderr.count("\n") == 1, stderr
        assert "caf" in stderr


def test_undecodable_file_names_the_byte(tmp_path: Path, seeds_dir: Path) -> None:
    args, _ = _not_utf8(tmp_path, seeds_dir)
    _, _, stderr = _run(["scan", *args, "--out", str(tmp_path / "out")])
    assert "byte 3" in stderr  # "caf" then the Latin-1 e-acute


def test_undecodable_bytes_are_replaced_and_recorded_by_default(
    tmp_path: Path, seeds_dir: Path
) -> None:
    import pyarrow.parquet as pq

    args, _path = _not_utf8(tmp_path, seeds_dir)
    args = [a for a in args if a not in ("--on-decode-error", "fail")]
    out = tmp_path / "out"
    code, _stdout, stderr = _run(["scan", *args, "--out", str(out)])
    assert code == 0, stderr
    assert "1 with bytes replaced" in stderr and "errors.parquet" in stderr
    rows = pq.read_table(out / "errors.parquet").to_pylist()
    assert [(r["action"], r["reason"].startswith("not valid UTF-8 from byte 3")) for r in rows] == [
        ("replaced", True)
    ]
    ids = pq.read_table(out / "documents.parquet").column("id").to_pylist()
    assert Path(rows[0]["path"]).name in ids


def test_a_skipped_input_exits_3_with_the_rest_labelled(tmp_path: Path, seeds_dir: Path) -> None:
    import pyarrow.parquet as pq

    args, _ = _not_utf8(tmp_path, seeds_dir)
    args = [a for a in args if a not in ("--on-decode-error", "fail")]
    out = tmp_path / "out"
    code, _, stderr = _run(["scan", *args, "--out", str(out), "--on-decode-error", "skip"])
    assert code == 3, stderr
    assert "1 skipped" in stderr
    assert pq.read_table(out / "errors.parquet").column("action").to_pylist() == ["skipped"]
    assert pq.read_table(out / "documents.parquet").column("id").to_pylist() == ["good.txt"]


def test_unparsable_value_names_the_option(tmp_path: Path, seeds_dir: Path) -> None:
    code, stdout, stderr = _run(["scan", str(seeds_dir), "-o", str(tmp_path), "--ngram", "abc"])
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert "--ngram" in stderr


def test_interrupt_says_the_output_is_unchanged_and_how_to_resume(
    tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(dedup.cli, "scan", interrupted)
    code, _, stderr = _run(["scan", str(seeds_dir), "--out", str(tmp_path / "out")])
    assert code == 130
    assert stderr.startswith("dedup: error: interrupted; the previous output, if any, is unchanged")
    assert "again to resume" in stderr and stderr.count("\n") == 1


def test_console_script_runs(tmp_path: Path, seeds_dir: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [console_script(), "scan", str(seeds_dir), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.search(r"^documents:\s+5$", done.stdout, re.MULTILINE)
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert pq.read_table(out / "documents.parquet").num_rows == 5
