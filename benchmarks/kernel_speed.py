"""Speed of the compiled block/shingle/signature kernel against the Python path.

    python benchmarks/kernel_speed.py            # ~30 MB of generated ASCII-ish text
    python benchmarks/kernel_speed.py FOLDER     # every *.txt under FOLDER (UTF-8)
    python benchmarks/kernel_speed.py --mb 10    # generate 10 MB instead
    python benchmarks/kernel_speed.py --non-ascii 0.2   # a fifth of lines not ASCII

Every stage runs on the same documents in the same process, so the ratios are
comparable even when the machine's absolute speed varies. MB are UTF-8 bytes
of input text (1 MB = 10**6 bytes). JIT compilation is excluded: each kernel
is warmed up on a small input first (and cached on disk after the first run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dedup.config import ScanConfig
from dedup.core.blockhash import python_blocks
from dedup.core.fastops import signatures_kernel
from dedup.core.kernel import line_blocks
from dedup.core.minhash import permutations, signatures


def generate(megabytes: float, non_ascii: float = 0.0, seed: int = 0) -> list[str]:
    """Documents of random words, with digits, punctuation and repeated boilerplate lines.

    A share `non_ascii` of the lines gets one non-ASCII word (such lines go
    through the Python functions inside `line_blocks`).
    """
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    vocab = ["".join(rng.choice(letters, size=rng.integers(1, 11))) for _ in range(20_000)]
    vocab += ["2024", "10:30", "e-mail", "U.S.", "snake_case", "(see", "below)", "--", "$4.99"]
    boiler = [
        "Subscribe to our newsletter for the latest news and offers.",
        "Copyright (c) 2024 Example Media Group. All rights reserved.",
        "Share this article: Facebook | Twitter | LinkedIn | E-mail",
        "Advertisement",
        "* * *",
    ]
    target = int(megabytes * 1e6)
    docs: list[str] = []
    size = 0
    while size < target:
        lines: list[str] = []
        for _ in range(int(rng.integers(10, 80))):
            if rng.random() < 0.15:
                lines.append(boiler[int(rng.integers(len(boiler)))])
            elif rng.random() < 0.05:
                lines.append("")
            else:
                words = [vocab[i] for i in rng.integers(len(vocab), size=rng.integers(1, 40))]
                end = "." if rng.random() < 0.7 else ""
                if rng.random() < non_ascii:
                    words[int(rng.integers(len(words)))] = "don\u2019t"
                lines.append("  " * int(rng.integers(0, 2)) + " ".join(words) + end)
        doc = "\n".join(lines)
        docs.append(doc)
        size += len(doc) + 1
    return docs


def read_folder(folder: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.txt"))]


def non_ascii_lines(texts: Sequence[str]) -> float:
    lines = [line for t in texts for line in t.split("\n") if line.strip()]
    return sum(not line.isascii() for line in lines) / max(1, len(lines))


def python_path(texts: Sequence[str], cfg: ScanConfig) -> int:
    """The Python reference of `line_blocks`, block by block (`blockhash.python_blocks`)."""
    return len(python_blocks(texts, cfg).hashes)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of `repeat` runs, and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="read *.txt from here")
    parser.add_argument("--mb", type=float, default=30.0, help="MB to generate")
    parser.add_argument(
        "--non-ascii",
        type=float,
        default=0.0,
        help="share of generated lines with a non-ASCII word",
    )
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    texts = read_folder(args.folder) if args.folder else generate(args.mb, args.non_ascii)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    cfg = ScanConfig(ngram=args.ngram, num_perm=args.num_perm)
    a, b = permutations(cfg.num_perm, cfg.seed)

    # Warm up (JIT compile or load from the on-disk cache).
    warm = line_blocks(texts[:2], cfg)
    signatures_kernel(warm.hashes, warm.offsets, a, b)

    t_py, n_py = timed(lambda: python_path(texts, cfg), 1)
    t_kernel, blocks = timed(lambda: line_blocks(texts, cfg), args.repeat)
    if len(blocks.hashes) != n_py:
        raise SystemExit(f"kernel made {len(blocks.hashes)} hashes, Python path {n_py}")
    t_sig, sig_py = timed(lambda: signatures(blocks.hashes, blocks.offsets, a, b), args.repeat)
    t_sigk, sig_k = timed(
        lambda: signatures_kernel(blocks.hashes, blocks.offsets, a, b), args.repeat
    )
    if not np.array_equal(sig_py, sig_k):
        raise SystemExit("signatures_kernel differs from signatures")

    n_blocks = len(blocks.doc)
    print(
        f"input: {len(texts)} docs, {mb:.1f} MB, {n_blocks} blocks, {n_py} shingles, "
        f"{non_ascii_lines(texts):.0%} of lines hold non-ASCII; ngram={cfg.ngram}, "
        f"num_perm={cfg.num_perm}"
    )
    rows = [
        ("python path (split+tokens+key+xxh32)", t_py, 1.0),
        ("line_blocks (kernel)", t_kernel, t_py / t_kernel),
        ("signatures (numpy)", t_sig, 1.0),
        ("signatures_kernel", t_sigk, t_sig / t_sigk),
    ]
    print(f"{'stage':40} {'seconds':>8} {'MB/s':>8} {'ratio':>7}")
    for name, seconds, ratio in rows:
        print(f"{name:40} {seconds:8.3f} {mb / seconds:8.1f} {ratio:6.1f}x")
    total_py = t_py + t_sig
    total_k = t_kernel + t_sigk
    print(
        f"{'blocks+signatures, python/numpy':40} {total_py:8.3f} {mb / total_py:8.1f}\n"
        f"{'blocks+signatures, kernel':40} {total_k:8.3f} {mb / total_k:8.1f} "
        f"{total_py / total_k:6.1f}x"
    )


if __name__ == "__main__":
    main()
