"""Bad input, one class at a time: the message, the errors.parquet record, the rest labelled.

Every case scans the five seed articles next to one bad input through the
CLI, and checks that the seeds are still labelled completely, that the bad
input is listed in errors.parquet with its reason, what stderr says, and the
exit code (3 when anything was skipped, 0 when only bytes were replaced).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

import dedup.sources
from dedup.cli import app

SEEDS = 5


def run(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an exception escaping the CLI fails the test."""
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}: a user sees a traceback")
    return result.exit_code, result.stdout, result.stderr


def rows(out: Path, table: str) -> list[dict[str, object]]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


def assert_labelled(out: Path, ids: set[str]) -> None:
    """Each of `ids` is in documents.parquet and its spans tile it."""
    docs = {str(r["id"]): r for r in rows(out, "documents")}
    assert ids <= set(docs), ids - set(docs)
    covered: dict[str, int] = {}
    for span in rows(out, "spans"):
        doc_id = str(span["id"])
        assert span["start"] == covered.get(doc_id, 0)
        covered[doc_id] = int(span["end"])  # type: ignore[call-overload]
    for doc_id in ids:
        assert covered.get(doc_id, 0) == docs[doc_id]["n_chars"]


@pytest.fixture
def docs(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(seeds_dir, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def seed_ids(seeds_dir: Path) -> set[str]:
    return {p.name for p in seeds_dir.iterdir()}


def scan_docs(docs: Path, *options: str) -> tuple[int, str, str, Path]:
    out = docs.parent / "out"
    code, stdout, stderr = run(["scan", str(docs), "--out", str(out), *options])
    return code, stdout, stderr, out


# --- undecodable bytes ---------------------------------------------------------------


def test_undecodable_bytes_are_replaced_and_recorded(docs: Path, seeds_dir: Path) -> None:
    (docs / "latin1.txt").write_bytes("caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    code, _, stderr, out = scan_docs(docs)
    assert code == 0, stderr
    assert "0 skipped, 1 with bytes replaced" in stderr
    [error] = rows(out, "errors")
    assert error["path"] == str(docs / "latin1.txt") and error["action"] == "replaced"
    assert str(error["reason"]).startswith("not valid UTF-8 from byte 3")
    assert_labelled(out, seed_ids(seeds_dir) | {"latin1.txt"})


def test_undecodable_bytes_skip_policy(docs: Path, seeds_dir: Path) -> None:
    (docs / "latin1.txt").write_bytes(b"caf\xe9\n")
    code, _, stderr, out = scan_docs(docs, "--on-decode-error", "skip")
    assert code == 3, stderr
    assert "1 skipped, 0 with bytes replaced" in stderr
    assert [(e["id"], e["action"]) for e in rows(out, "errors")] == [("latin1.txt", "skipped")]
    assert_labelled(out, seed_ids(seeds_dir))
    assert len(rows(out, "documents")) == SEEDS


def test_undecodable_bytes_fail_policy_names_file_and_byte(docs: Path) -> None:
    (docs / "latin1.txt").write_bytes(b"caf\xe9\n")
    code, stdout, stderr, out = scan_docs(docs, "--on-decode-error", "fail")
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"dedup: error: {docs / 'latin1.txt'}: not valid UTF-8 at byte 3")
    assert not out.exists()


def test_undecodable_bytes_in_a_jsonl_record(docs: Path, seeds_dir: Path) -> None:
    good = json.dumps({"id": "r1", "text": "fine"}).encode()
    (docs / "s.jsonl").write_bytes(good + b'\n{"id": "r2", "text": "caf\xe9"}\n')
    code, _, stderr, out = scan_docs(docs)
    assert code == 0, stderr
    [error] = rows(out, "errors")
    assert (error["id"], error["row"], error["action"]) == ("r2", 2, "replaced")
    assert_labelled(out, seed_ids(seeds_dir) | {"r1", "r2"})


def test_lone_surrogate_in_a_json_text_is_undecodable(docs: Path, seeds_dir: Path) -> None:
    (docs / "s.jsonl").write_text('{"id": "r1", "text": "a\\ud800b"}\n', encoding="utf-8")
    code, _, stderr, out = scan_docs(docs, "--on-decode-error", "skip")
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert "lone surrogate" in str(error["reason"]) and error["action"] == "skipped"
    assert_labelled(out, seed_ids(seeds_dir))


# --- binary ------------------------------------------------------------------------------

BINARY = {
    "NUL byte": b"text\x00more text\n",
    "mostly control bytes": bytes(range(1, 9)) * 50,
    "an image": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
}


@pytest.mark.parametrize("kind", list(BINARY))
def test_binary_file_is_skipped_and_recorded(docs: Path, seeds_dir: Path, kind: str) -> None:
    (docs / "blob.bin").write_bytes(BINARY[kind])
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    assert "1 skipped" in stderr
    [error] = rows(out, "errors")
    assert (error["id"], error["reason"], error["action"]) == (
        "blob.bin",
        "binary file (NUL or control bytes)",
        "skipped",
    )
    assert_labelled(out, seed_ids(seeds_dir))


def test_binary_text_in_a_record_is_skipped(docs: Path, seeds_dir: Path) -> None:
    lines = [{"id": "ok", "text": "fine"}, {"id": "blob", "text": "\u0000\u0001" * 20}]
    (docs / "s.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert (error["id"], error["row"]) == ("blob", 2)
    assert str(error["reason"]).startswith("binary text")
    assert_labelled(out, seed_ids(seeds_dir) | {"ok"})


# --- empty --------------------------------------------------------------------------------


def test_empty_file_and_empty_text_are_documents_without_spans(docs: Path, seeds_dir: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    (docs / "s.jsonl").write_text('{"id": "blank", "text": ""}\n', encoding="utf-8")
    code, _, stderr, out = scan_docs(docs)
    assert code == 0 and stderr == ""
    assert rows(out, "errors") == []
    assert_labelled(out, seed_ids(seeds_dir) | {"empty.txt", "blank"})
    assert not [s for s in rows(out, "spans") if s["id"] in ("empty.txt", "blank")]


# --- a monster line -------------------------------------------------------------------------


def test_a_line_of_tens_of_megabytes_as_text_and_as_jsonl_gz(docs: Path, seeds_dir: Path) -> None:
    """One line of 20 MB, twice; linear scaling is measured in benchmarks/long_line.py."""
    line = random_line(20_000_000)
    (docs / "monster.txt").write_text(line, encoding="utf-8")
    record = json.dumps({"id": "monster-record", "text": line}).encode()
    (docs / "monster.jsonl.gz").write_bytes(gzip.compress(record, compresslevel=1))
    code, _, stderr, out = scan_docs(docs)
    assert code == 0, stderr
    assert_labelled(out, seed_ids(seeds_dir) | {"monster.txt", "monster-record"})
    sizes = {r["id"]: r["n_chars"] for r in rows(out, "documents")}
    assert sizes["monster.txt"] == sizes["monster-record"] == len(line)


def random_line(n_chars: int) -> str:
    """About `n_chars` characters of random words, one line."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzé"))
    vocab = ["".join(rng.choice(letters, int(k))) for k in rng.integers(2, 10, 5000)]
    words = np.array(vocab)[rng.integers(0, len(vocab), n_chars // 6)]
    return " ".join(words.tolist())


# --- duplicate ids ----------------------------------------------------------------------------


def test_duplicate_ids_across_shards_name_both_sources(docs: Path) -> None:
    (docs / "a.jsonl").write_text('{"id": "x", "text": "one"}\n{"id": "y", "text": "two"}\n')
    (docs / "b.jsonl").write_text('\n{"id": "y", "text": "three"}\n')
    code, stdout, stderr, out = scan_docs(docs)
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1
    assert f"{docs / 'a.jsonl'} line 2 and {docs / 'b.jsonl'} line 2" in stderr
    assert "'y'" in stderr
    assert not out.exists()


def test_a_record_id_equal_to_a_file_id_is_a_duplicate(docs: Path, seeds_dir: Path) -> None:
    name = sorted(seed_ids(seeds_dir))[0]
    (docs / "z.jsonl").write_text(json.dumps({"id": name, "text": "t"}) + "\n")
    code, _, stderr, _ = scan_docs(docs)
    assert code == 1
    assert f"{docs / name} and {docs / 'z.jsonl'} line 1" in stderr


# --- unreadable ------------------------------------------------------------------------------


def test_unreadable_file_is_recorded(
    docs: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root reads any file, so the denial is simulated where the reader reads."""
    locked = docs / "locked.txt"
    locked.write_text("secret\n", encoding="utf-8")
    real = dedup.sources.read_all

    def read_all(path: Path, compression: str | None) -> bytes:
        if path == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, compression)

    monkeypatch.setattr(dedup.sources, "read_all", read_all)
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert (error["id"], error["reason"]) == ("locked.txt", "cannot read: Permission denied")
    assert_labelled(out, seed_ids(seeds_dir))


def test_unlistable_folder_is_recorded(
    docs: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads every folder: a folder that cannot be listed is simulated.
    private = docs / "private"
    private.mkdir()
    (private / "secret.txt").write_text("hidden text\n", encoding="utf-8")
    real = os.scandir

    def scandir(path: object) -> object:
        # The os module is everyone's: only the walk's call for the folder fails.
        if isinstance(path, str) and Path(path) == private:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(private))
        return real(path)

    monkeypatch.setattr(dedup.sources.os, "scandir", scandir)
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert error["path"] == str(private)
    assert error["reason"] == "cannot list: Permission denied"
    assert_labelled(out, seed_ids(seeds_dir))


def test_broken_link_is_recorded(docs: Path, seeds_dir: Path) -> None:
    (docs / "gone.txt").symlink_to(docs / "nowhere.txt")
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert (error["id"], error["reason"]) == ("gone.txt", "cannot read: broken symbolic link")
    assert_labelled(out, seed_ids(seeds_dir))


_LINES = b"".join(b'{"id": "r%d", "text": "line"}\n' % i for i in range(20000))


def _truncated_gzip(docs: Path) -> tuple[str, str]:
    data = gzip.compress(_LINES)
    (docs / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    return "cut.jsonl.gz", "cannot read after line"


def _truncated_zstd(docs: Path) -> tuple[str, str]:
    """zstandard's own reader ends quietly here: the rest of the shard would vanish."""
    data = zstandard.ZstdCompressor().compress(_LINES)
    (docs / "cut.jsonl.zst").write_bytes(data[: len(data) // 2])
    return "cut.jsonl.zst", "the file ends inside a zstd frame"


def _corrupt_gzip(docs: Path) -> tuple[str, str]:
    (docs / "bad.txt.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    return "bad.txt.gz", "corrupt or truncated gzip data"


def _not_gzip(docs: Path) -> tuple[str, str]:
    (docs / "plain.txt.gz").write_bytes(b"not compressed at all\n")
    return "plain.txt.gz", "corrupt or truncated gzip data"


def _corrupt_zstd(docs: Path) -> tuple[str, str]:
    (docs / "bad.jsonl.zst").write_bytes(b"(\xb5/\xfd garbage")
    return "bad.jsonl.zst", "zstd"


def _corrupt_parquet(docs: Path) -> tuple[str, str]:
    (docs / "bad.parquet").write_bytes(b"PAR1 not really")
    return "bad.parquet", "not a readable Parquet file"


def _parquet_without_text(docs: Path) -> tuple[str, str]:
    import pyarrow as pa

    pq.write_table(pa.table({"id": ["a"], "body": ["t"]}), docs / "notext.parquet")
    return "notext.parquet", "no column 'text' (columns: 'id', 'body'); pass --text-field"


def _not_jsonl(docs: Path) -> tuple[str, str]:
    (docs / "config.json").write_text('{\n  "pretty": true\n}\n', encoding="utf-8")
    return "config.json", "not JSON Lines: line 1 is not JSON"


def _jsonl_without_text(docs: Path) -> tuple[str, str]:
    (docs / "s.jsonl").write_text('{"id": "a", "body": "t"}\n', encoding="utf-8")
    return "s.jsonl", "line 1 has no field 'text' (fields: 'id', 'body'); pass --text-field"


UNREADABLE = {
    "truncated gzip": _truncated_gzip,
    "truncated zstd": _truncated_zstd,
    "corrupt gzip": _corrupt_gzip,
    "not gzip": _not_gzip,
    "corrupt zstd": _corrupt_zstd,
    "corrupt parquet": _corrupt_parquet,
    "parquet without text column": _parquet_without_text,
    "not JSON Lines": _not_jsonl,
    "JSONL without text field": _jsonl_without_text,
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_content_is_recorded(docs: Path, seeds_dir: Path, case: str) -> None:
    name, reason = UNREADABLE[case](docs)
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    errors = [e for e in rows(out, "errors") if e["path"] == str(docs / name)]
    assert len(errors) == 1, errors
    assert reason in str(errors[0]["reason"])
    assert errors[0]["action"] == "skipped" and errors[0]["row"] is None
    readable = {str(r["id"]) for r in rows(out, "documents")} - seed_ids(seeds_dir)
    assert_labelled(out, seed_ids(seeds_dir) | readable)
    if case.startswith("truncated"):
        assert len(readable) > 1000  # the lines before the cut are kept


BAD_RECORDS = {
    "not JSON": (b"{oops\n", "not valid JSON"),
    "not an object": (b"[1, 2]\n", "an array, not an object"),
    "no text field": (b'{"id": "r9"}\n', "no field 'text'"),
    "text not a string": (b'{"id": "r9", "text": 5}\n', "field 'text' is a number, not a string"),
    "id not a string": (b'{"id": [1], "text": "t"}\n', "field 'id' is an array"),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_bad_record_is_skipped_and_the_rest_of_its_file_read(
    docs: Path, seeds_dir: Path, case: str
) -> None:
    line, reason = BAD_RECORDS[case]
    (docs / "s.jsonl").write_bytes(b'{"id": "r1", "text": "one"}\n' + line + b'{"text": "x"}\n')
    code, _, stderr, out = scan_docs(docs)
    assert code == 3, stderr
    [error] = rows(out, "errors")
    assert reason in str(error["reason"]), error
    assert (error["row"], error["action"]) == (2, "skipped")
    assert_labelled(out, seed_ids(seeds_dir) | {"r1", "s.jsonl:3"})
