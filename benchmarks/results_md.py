"""Replacing one marked section of benchmarks/RESULTS.md, shared by the benchmark scripts."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(name: str, heading: str, body: str, path: Path = RESULTS) -> None:
    """Put `body` between `<!-- name:begin -->` and `<!-- name:end -->` in `path`.

    The markers are added under `## heading` at the end when the file lacks them.
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n{section}\n"
    path.write_text(text, encoding="utf-8")
