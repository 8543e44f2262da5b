"""Detection quality on labelled corpora, written into benchmarks/RESULTS.md.

    python benchmarks/quality.py [--shared ../shared] [--write]

Scans every labelled corpus it finds (seeds/ with ../shared/eval/seeds.gold.jsonl,
and the folders of ../shared/corpora/ that hold docs/ and gold files), scores
the spans with dedup.evaluate (the definitions of ../shared/eval/score_spans.py)
and prints one table; --write replaces the quality section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from dedup import ScanConfig, scan
from dedup.evaluate import CharCounts, read_gold, score_document

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


@dataclass(frozen=True)
class Case:
    name: str
    docs: Path
    gold: Path


def cases(shared: Path) -> list[Case]:
    found = [Case("seeds", ROOT / "seeds", shared / "eval" / "seeds.gold.jsonl")]
    corpora = shared / "corpora"
    for folder in sorted(corpora.iterdir()) if corpora.is_dir() else []:
        for gold in sorted(folder.glob("gold.*.jsonl")):
            found.append(Case(f"{folder.name} ({gold.stem[5:]})", folder / "docs", gold))
    return [c for c in found if c.docs.is_dir() and c.gold.is_file()]


def evaluate(case: Case, spans_path: Path) -> CharCounts:
    spans = pq.read_table(spans_path, columns=["id", "start", "end", "label"]).to_pylist()
    predicted: dict[str, list[tuple[int, int]]] = {}
    for row in spans:
        if row["label"] == "boilerplate":
            predicted.setdefault(row["id"], []).append((row["start"], row["end"]))
    total = CharCounts()
    for doc, gold in read_gold(case.gold).items():
        if gold is None:
            continue
        text = (case.docs / doc).read_bytes().decode("utf-8")
        total += score_document(text, gold, predicted.get(doc, []))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    cfg = ScanConfig()
    rows = ["| corpus | P | R | F1 | content_kept | seconds |", "|---|---|---|---|---|---|"]
    scanned: dict[Path, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases(args.shared):
            started = time.perf_counter()
            if case.docs not in scanned:
                out = Path(tmp) / f"scan{len(scanned)}"
                scan([case.docs], out, cfg)
                scanned[case.docs] = out
            counts = evaluate(case, scanned[case.docs] / "spans.parquet")
            seconds = time.perf_counter() - started
            rows.append(
                f"| {case.name} | {counts.precision:.3f} | {counts.recall:.3f} | "
                f"{counts.f1:.3f} | {counts.content_kept:.3f} | {seconds:.1f} |"
            )
    table = "\n".join(rows)
    print(table)
    if args.write:
        command = "python benchmarks/quality.py --write"
        section = f"{BEGIN}\n{table}\n\nProduced by `{command}` with the default config.\n{END}"
        text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n## Quality\n\n" + section + "\n"
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
