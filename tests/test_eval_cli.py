"""`dedup generate` and `dedup eval` through CliRunner, and the pair scorer by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.evaluate import PairCounts, read_pairs, score_pairs

CHARS = re.compile(
    r"^boilerplate-chars P=(\S+) R=(\S+) F1=(\S+) content_kept=(\S+) "
    r"docs=(\d+) missing_docs=(\d+)$",
    re.MULTILINE,
)
PAIRS = re.compile(
    r"^near-duplicate-pairs P=(\S+) R=(\S+) F1=(\S+) predicted=(\d+) gold=(\d+) "
    r"negatives_merged=(\d+)/(\d+)$",
    re.MULTILINE,
)
SMALL = ["--sites", "4", "--pages", "5", "--near-duplicates", "3"]


def _run(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an exception other than SystemExit fails the test."""
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}: a user sees a traceback")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(generated corpus, scan output) of one small corpus."""
    base = tmp_path_factory.mktemp("eval")
    corpus, scan_out = base / "corpus", base / "scan"
    code, _, stderr = _run(["generate", str(corpus), *SMALL])
    assert code == 0, stderr
    code, _, stderr = _run(["scan", str(corpus / "docs"), "--out", str(scan_out)])
    assert code == 0, stderr
    return corpus, scan_out


def _eval(corpus: Path, scan_out: Path, *extra: str) -> tuple[int, str, str]:
    return _run(["eval", str(scan_out), "--docs", str(corpus / "docs"), *extra])


def test_generate_writes_the_corpus_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    code, stdout, stderr = _run(["generate", str(out), *SMALL])
    assert code == 0, stderr
    assert stdout.strip() == f"wrote 23 documents to {out}/docs, gold.jsonl, pairs.jsonl"
    assert sorted(p.name for p in out.iterdir()) == ["docs", "gold.jsonl", "pairs.jsonl"]
    assert len(list((out / "docs").iterdir())) == 4 * 5 + 3
    assert len((out / "gold.jsonl").read_text(encoding="utf-8").splitlines()) == 23
    # Three copies; two share an original, so their family adds one pair.
    assert len((out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()) == 4
    before = {p.name: p.read_bytes() for p in (out / "docs").iterdir()}

    code, stdout, stderr = _run(["generate", str(out), *SMALL, "--seed", "1"])
    assert code != 0
    assert stdout == ""
    assert stderr.startswith("dedup: error: ") and "--force" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (out / "docs").iterdir()} == before

    code, _, stderr = _run(["generate", str(out), *SMALL, "--seed", "1", "--force"])
    assert code == 0, stderr
    assert {p.name: p.read_bytes() for p in (out / "docs").iterdir()} != before


def test_eval_scores_the_scan_against_the_generated_truth(scanned: tuple[Path, Path]) -> None:
    corpus, scan_out = scanned
    code, stdout, stderr = _eval(
        corpus,
        scan_out,
        "--gold",
        str(corpus / "gold.jsonl"),
        "--pairs",
        str(corpus / "pairs.jsonl"),
    )
    assert code == 0, stderr
    assert stderr == ""
    chars, pairs = CHARS.search(stdout), PAIRS.search(stdout)
    assert chars is not None and pairs is not None, stdout
    p, r, f1, kept = (float(x) for x in chars.groups()[:4])
    assert all(0.0 <= x <= 1.0 for x in (p, r, f1, kept))
    assert chars.group(5, 6) == ("23", "0")
    # Measured 0.944 / 0.953 / 0.948 / 0.986 on this corpus.
    assert f1 > 0.85 and p > 0.85 and r > 0.85
    assert kept > 0.95
    pp, pr, pf1 = (float(x) for x in pairs.groups()[:3])
    assert all(0.0 <= x <= 1.0 for x in (pp, pr, pf1))
    assert pairs.group(5) == "4"
    assert pr == 1.0
    assert pf1 > 0.9


def test_eval_with_gold_only_prints_only_characters(scanned: tuple[Path, Path]) -> None:
    corpus, scan_out = scanned
    code, stdout, stderr = _eval(corpus, scan_out, "--gold", str(corpus / "gold.jsonl"))
    assert code == 0, stderr
    assert CHARS.search(stdout) and not PAIRS.search(stdout)
    code, stdout, stderr = _eval(corpus, scan_out, "--pairs", str(corpus / "pairs.jsonl"))
    assert code == 0, stderr
    assert PAIRS.search(stdout) and not CHARS.search(stdout)


def test_eval_needs_gold_or_pairs(scanned: tuple[Path, Path]) -> None:
    corpus, scan_out = scanned
    code, stdout, stderr = _eval(corpus, scan_out)
    assert code != 0
    assert stdout == ""
    assert stderr.strip() == "dedup: error: give --gold, --pairs or both"


def test_eval_without_a_scan_names_the_missing_table(
    tmp_path: Path, scanned: tuple[Path, Path]
) -> None:
    corpus, _ = scanned
    empty = tmp_path / "not-a-scan"
    empty.mkdir()
    code, stdout, stderr = _eval(corpus, empty, "--gold", str(corpus / "gold.jsonl"))
    assert code != 0
    assert stdout == ""
    assert f"{empty / 'spans.parquet'}" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option", ["--gold", "--pairs"])
def test_eval_with_a_missing_label_file_is_a_message(
    tmp_path: Path, scanned: tuple[Path, Path], option: str
) -> None:
    corpus, scan_out = scanned
    missing = tmp_path / "nope.jsonl"
    code, _, stderr = _eval(corpus, scan_out, option, str(missing))
    assert code != 0
    assert str(missing) in stderr and len(stderr.strip().splitlines()) == 1


def test_eval_with_malformed_gold_spans_is_a_message(
    tmp_path: Path, scanned: tuple[Path, Path]
) -> None:
    corpus, scan_out = scanned
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"doc": "site000__page000.txt", "boilerplate": [[1]]}\n', encoding="utf-8")
    code, _, stderr = _eval(corpus, scan_out, "--gold", str(bad))
    assert code != 0
    assert f"{bad}:1" in stderr


def test_eval_with_a_gold_document_missing_from_docs_names_it(
    tmp_path: Path, scanned: tuple[Path, Path]
) -> None:
    corpus, scan_out = scanned
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"doc": "nowhere.txt", "boilerplate": [[0, 1]]}\n', encoding="utf-8")
    code, _, stderr = _eval(corpus, scan_out, "--gold", str(gold))
    assert code != 0
    assert "nowhere.txt" in stderr


def test_score_pairs_counts_every_two_members_of_a_cluster() -> None:
    cluster_of: dict[str, object] = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 3, "x": 1}
    positives = {("a", "b"), ("d", "e")}
    negatives = {("a", "c")}
    # "x" is in no gold pair, so it adds no predicted pair; cluster 1 gives ab, ac, bc.
    counts = score_pairs(cluster_of, positives, negatives)
    assert counts == PairCounts(predicted=3, gold=2, correct=1, negatives=1, negatives_merged=1)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == 0.5
    assert counts.f1 == pytest.approx(0.4)


def test_score_pairs_of_a_perfect_and_an_empty_prediction() -> None:
    positives = {("a", "b"), ("a", "c"), ("b", "c")}
    perfect = score_pairs({"a": 0, "b": 0, "c": 0, "d": 1}, positives, {("a", "d")})
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    assert perfect.negatives_merged == 0
    apart = score_pairs({"a": "a", "b": "b", "c": "c"}, positives)
    assert apart == PairCounts(predicted=0, gold=3, correct=0)
    assert (apart.precision, apart.recall, apart.f1) == (1.0, 0.0, 0.0)


def test_read_pairs_reads_a_b_lines_with_and_without_docs_prefix(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"a": "docs/z.txt", "b": "docs/sub/y.txt", "duplicate": True},
        {"a": "p.txt", "b": "q.txt"},
        {"a": "docs/m.txt", "b": "n.txt", "duplicate": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    positives, negatives = read_pairs(path)
    assert positives == {("sub/y.txt", "z.txt"), ("p.txt", "q.txt")}
    assert negatives == {("m.txt", "n.txt")}


def test_read_pairs_reads_cluster_lines(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"file": "docs/c.txt", "cluster": 7},
        {"file": "docs/a.txt", "cluster": 7},
        {"file": "b.txt", "cluster": 7},
        {"file": "docs/lonely.txt", "cluster": 8},
        {"file": "docs/d.txt", "cluster": "x"},
        {"file": "docs/e.txt", "cluster": "x"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    positives, negatives = read_pairs(path)
    assert positives == {
        ("a.txt", "b.txt"),
        ("a.txt", "c.txt"),
        ("b.txt", "c.txt"),
        ("d.txt", "e.txt"),
    }
    assert negatives == set()
