"""One monster line: does a scan stay linear in its length? Into benchmarks/RESULTS.md.

    python benchmarks/long_line.py [--sizes 8,16,32,64] [--repeat 2] [--smoke] [--write]

For each size, one line of that many MB (10**6 characters) of random words
is scanned end to end (`dedup.runner.scan`, read to Parquet, one worker)
next to a small document, once as a text file and once as the text field
of a one-line JSONL.gz shard (gzip, JSON parsing). Each time is the fastest
of --repeat runs, after a warm-up that loads the compiled kernels. The
column "s per MB vs smallest" divides each size's seconds per MB by the
smallest size's: about 1 at every size means linear time; a quadratic step
would double it with every doubling of the line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from dedup import ScanConfig, scan
from results_md import replace_section  # benchmarks/ is on sys.path when run


def random_line(n_chars: int, seed: int = 0) -> str:
    """About `n_chars` characters of random words from a 5,000-word vocabulary, no newline."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, int(k))) for k in rng.integers(2, 10, 5000)]
    words = np.array(vocab)[rng.integers(0, len(vocab), n_chars // 6)]
    return " ".join(words.tolist())


def _write(folder: Path, kind: str, line: str) -> None:
    folder.mkdir()
    (folder / "small.txt").write_text("a small neighbour\n", encoding="utf-8")
    if kind == "text":
        (folder / "monster.txt").write_text(line, encoding="utf-8")
    else:
        record = json.dumps({"id": "monster", "text": line}).encode()
        (folder / "monster.jsonl.gz").write_bytes(gzip.compress(record, compresslevel=1))


def measure(kind: str, mb: float, repeat: int, tmp: Path) -> float:
    """Fastest seconds of `repeat` scans of a `mb` MB line given as `kind`."""
    folder = tmp / f"{kind}-{mb}"
    _write(folder, kind, random_line(int(mb * 1_000_000)))
    best = float("inf")
    for i in range(repeat):
        start = time.perf_counter()
        scan([folder], tmp / f"out-{kind}-{mb}-{i}", ScanConfig(), workers=1)
        best = min(best, time.perf_counter() - start)
    return best


def table(sizes: list[float], repeat: int) -> str:
    lines = [
        "| input | MB | seconds | MB/s | s per MB vs smallest |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        measure("text", 0.01, 1, tmp)  # warm-up: compiled kernels loaded
        for kind in ("text", "jsonl.gz"):
            base = None
            for mb in sizes:
                seconds = measure(kind, mb, repeat, tmp)
                per_mb = seconds / mb
                base = base or per_mb
                lines.append(
                    f"| {kind} | {mb:g} | {seconds:.2f} | {mb / seconds:.1f} | "
                    f"{per_mb / base:.2f} |"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="8,16,32,64", help="line sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="runs per size; the fastest counts")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = [0.05, 0.1] if args.smoke else [float(s) for s in args.sizes.split(",")]
    body = table(sizes, 1 if args.smoke else args.repeat)
    print(body)
    if args.write and not args.smoke:
        command = f"python benchmarks/long_line.py --sizes {args.sizes} --repeat {args.repeat}"
        replace_section("long_line", "One long line", f"`{command}`\n\n{body}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
