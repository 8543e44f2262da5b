"""Detection quality on every labelled corpus, written into benchmarks/RESULTS.md.

    python benchmarks/quality.py [--shared ../shared] [--data benchmarks/data] [--write]

Corpora, each skipped with a note when absent:
- generated: `dedup.synth` at 300+ documents (its gold and near-duplicate pairs);
- seeds/ with ../shared/eval/seeds.gold.jsonl;
- ../shared/corpora/web_chaos_mixed and web_aeb_single, without grouping and
  grouped per site (the file-name prefix before "__");
- src_kubernetes, debian_copyright and neardup_k8s_sync_aio, built into
  --data by their ../shared/corpora/*/make.sh (`make corpora` does it).

Scores use dedup.evaluate, whose definitions are those of
../shared/eval/score_spans.py. "naive" rows are the exact-line baseline the
issues quote: every line whose text occurs in two or more files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from dedup import ScanConfig, scan
from dedup.evaluate import (
    CharCounts,
    Evaluation,
    evaluate_scan,
    read_gold,
    score_document,
)
from dedup.synth import SynthConfig, generate
from dedup.synth_io import write_corpus
from results_md import replace_section  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
GENERATED = SynthConfig(seed=0, sites=30, pages_per_site=10, near_duplicates=40, quote_pairs=15)


@dataclass(frozen=True)
class Case:
    name: str
    docs: Path
    gold: Path | None = None
    field: str | None = None
    pairs: Path | None = None
    group_by: str = "none"


def cases(shared: Path, data: Path, generated: Path) -> tuple[list[Case], list[str]]:
    found: list[Case] = []
    notes: list[str] = []

    def add(case: Case, *needed: Path | None) -> None:
        missing = [str(p) for p in (case.docs, *needed) if p is not None and not p.exists()]
        if missing:
            notes.append(f"{case.name}: skipped, {missing[0]} not found")
        else:
            found.append(case)

    add(
        Case(
            "generated",
            generated / "docs",
            generated / "gold.jsonl",
            None,
            generated / "pairs.jsonl",
        ),
        generated / "gold.jsonl",
    )
    if found:
        found.append(replace(found[-1], group_by="prefix"))
    eval_dir = shared / "eval"
    add(Case("seeds", ROOT / "seeds", eval_dir / "seeds.gold.jsonl"), eval_dir / "seeds.gold.jsonl")
    for web in ("web_chaos_mixed", "web_aeb_single"):
        folder = shared / "corpora" / web
        for gold in ("nonarticle", "repeated"):
            for group_by in ("none", "prefix"):
                path = folder / f"gold.{gold}.jsonl"
                add(Case(f"{web} ({gold})", folder / "docs", path, group_by=group_by), path)
    add(
        Case(
            "src_kubernetes (headers)",
            data / "src_kubernetes" / "docs",
            data / "src_kubernetes" / "labels.jsonl",
            "boilerplate_spans",
        ),
        data / "src_kubernetes" / "labels.jsonl",
    )
    add(
        Case(
            "debian_copyright (License bodies)",
            data / "debian_copyright" / "docs",
            data / "debian_copyright" / "labels.jsonl",
            "boilerplate_spans",
        ),
        data / "debian_copyright" / "labels.jsonl",
    )
    add(
        Case(
            "neardup_k8s_sync_aio (twins)",
            data / "neardup_k8s_sync_aio" / "docs",
            pairs=data / "neardup_k8s_sync_aio" / "pairs.jsonl",
        ),
        data / "neardup_k8s_sync_aio" / "pairs.jsonl",
    )
    return found, notes


def naive_counts(case: Case) -> CharCounts:
    """The exact-line baseline: a line whose text occurs in two or more files."""
    assert case.gold is not None
    texts = {
        p.relative_to(case.docs).as_posix(): p.read_bytes().decode("utf-8")
        for p in sorted(case.docs.rglob("*"))
        if p.is_file()
    }
    files_of: dict[str, set[str]] = {}
    for doc, text in texts.items():
        for line in text.split("\n"):
            if line.strip():
                files_of.setdefault(line.strip(), set()).add(doc)
    total = CharCounts()
    for doc, gold in read_gold(case.gold, case.field).items():
        if gold is None:
            continue
        text, spans, pos = texts[doc], [], 0
        for line in text.split("\n"):
            if line.strip() and len(files_of[line.strip()]) >= 2:
                spans.append((pos, pos + len(line)))
            pos += len(line) + 1
        total += score_document(text, gold, spans)
    return total


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def row(case: Case, result: Evaluation, seconds: float, extra: str = "") -> str:
    c, p = result.chars, result.pairs
    cells = [
        case.name,
        case.group_by,
        _fmt(c.precision if c else None),
        _fmt(c.recall if c else None),
        _fmt(c.f1 if c else None),
        # Four digits: targets such as 0.997 sit within a rounding step.
        _fmt(c.content_kept if c else None, 4),
        _fmt(p.precision if p else None),
        _fmt(p.recall if p else None),
        _fmt(p.f1 if p else None),
        extra,
        f"{seconds:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def twins(case: Case, result: Evaluation) -> str:
    """Positives in one cluster, and hard negatives merged, as the issue counts them."""
    pairs = result.pairs
    if pairs is None:
        return ""
    return (
        f"twins together {pairs.correct}/{pairs.gold}, "
        f"hard negatives merged {pairs.negatives_merged}/{pairs.negatives}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    columns = [
        "corpus",
        "group-by",
        "P",
        "R",
        "F1",
        "content_kept",
        "pairs_P",
        "pairs_R",
        "pairs_F1",
        "notes",
        "s",
    ]
    header = "| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|"
    lines = [header]
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated"
        write_corpus(generate(GENERATED), generated)
        found, notes = cases(args.shared, args.data, generated)
        for number, case in enumerate(found):
            started = time.perf_counter()
            out = Path(tmp) / f"scan{number}"
            scan([case.docs], out, ScanConfig(group_by=case.group_by))
            result = evaluate_scan(out, case.docs, case.gold, case.field, case.pairs)
            seconds = time.perf_counter() - started
            extra = twins(case, result) if "twins" in case.name else ""
            lines.append(row(case, result, seconds, extra))
            print(lines[-1], flush=True)
            if case.gold is not None and case.group_by == "none" and case.name.startswith("web"):
                naive = naive_counts(case)
                lines.append(
                    row(
                        replace(case, name=f"{case.name}, naive", group_by="-"),
                        Evaluation(naive, None, result.documents, 0),
                        0.0,
                    )
                )
                print(lines[-1], flush=True)
    table = "\n".join(lines)
    note_text = "".join(f"\n- {n}" for n in notes)
    command = "python benchmarks/quality.py --write"
    section = (
        f"{table}\n\nProduced by `{command}` (default config; `make corpora` builds "
        f"the corpora of ../shared/corpora/*/make.sh into benchmarks/data first).{note_text}"
    )
    print("\n".join(notes))
    if args.write:
        replace_section("quality", "Quality", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
