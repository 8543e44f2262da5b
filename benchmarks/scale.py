"""The embedded runner and the Ray engine (1 and 2 CPUs) on growing shares of one corpus.

    python benchmarks/scale.py [--mb 1000] [--fractions 0.1,0.3,1] [--data benchmarks/data]
        [--engines embedded,ray1,ray2] [--timeout 3600] [--write]

The corpus is about --mb MB of `dedup.synth` pages (seed 0), generated once
into --data/scale_<mb>mb and kept; smaller shares are nested seeded samples
of its files (symbolic links, as benchmarks/throughput.py makes them). Each
run is the `dedup scan` console script in a fresh process, so times include
starting Python (and, for Ray, a local Ray instance: about 5 s). Memory is
sampled every 0.2 s over the process tree (the driver, Ray's raylet and GCS,
its workers): the peak RSS of the driver, of the largest other process, and
of the whole tree at once. RSS counts the pages of Ray's shared-memory object
store in every process that maps them, so the tree figure overstates Ray's
use, and a Ray driver's RSS counts every object it has read; the driver's
own memory (RssAnon, its anonymous pages) is reported beside it. Every Ray
run's tables are compared byte for byte with the embedded runner's on the
same share.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from results_md import replace_section  # benchmarks/ is on sys.path when run
from throughput import generated_corpus, sample

ROOT = Path(__file__).resolve().parent.parent
ENGINES = {
    "embedded": ("embedded runner, 2 workers", ["--workers", "2"]),
    "ray1": ("Ray engine, 1 CPU", ["--engine", "ray", "--workers", "1"]),
    "ray2": ("Ray engine, 2 CPUs", ["--engine", "ray", "--workers", "2"]),
}


@dataclass
class Run:
    engine: str
    fraction: float
    docs: int
    mb: float
    seconds: float = 0.0
    driver_mb: float = 0.0
    driver_own_mb: float = 0.0
    other_mb: float = 0.0
    other_name: str = ""
    tree_mb: float = 0.0
    procs: int = 0
    same: str = ""
    note: str = ""
    peaks: dict[int, tuple[float, str]] = field(default_factory=dict)


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, RSS MB, name) of every process (Linux /proc)."""
    found: dict[int, tuple[int, float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                name = f.read().split(b"\0")[0].decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        found[int(entry)] = (int(fields[1]), rss, name.rsplit("/", 1)[-1] or stat.split()[1])
    return found


def _anonymous_mb(pid: int) -> float:
    """The process's own resident memory (RssAnon): not the pages of files or of
    shared memory it maps, such as Ray's object store, which its RSS counts."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1e3
    except OSError:
        pass
    return 0.0


def _sample(run: Run, root_pid: int) -> None:
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    todo, tree = [root_pid], []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    total = 0.0
    for pid in tree:
        if pid not in procs:
            continue
        _, rss, name = procs[pid]
        total += rss
        if rss > run.peaks.get(pid, (0.0, ""))[0]:
            run.peaks[pid] = (rss, name)
    run.tree_mb = max(run.tree_mb, total)
    run.procs = max(run.procs, len(tree))


def measure(run: Run, root: Path, out: Path, extra: list[str], timeout: float) -> None:
    dedup = Path(sys.executable).with_name("dedup")
    command = [str(dedup), "scan", str(root), "--out", str(out), "--force", "-q", *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.2):
            _sample(run, child.pid)
            run.driver_own_mb = max(run.driver_own_mb, _anonymous_mb(child.pid))

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        _, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        run.note = f"FAILED: no result within {timeout:.0f} s"
    finally:
        stop.set()
        thread.join()
    run.seconds = time.perf_counter() - started
    if child.returncode != 0 and not run.note:
        run.note = f"FAILED (exit {child.returncode}): {(err.strip().splitlines() or [''])[-1]}"
    run.driver_mb = run.peaks.get(child.pid, (0.0, ""))[0]
    others = [(rss, name) for pid, (rss, name) in run.peaks.items() if pid != child.pid]
    if others:
        run.other_mb, run.other_name = max(others)


def tables_of(out: Path) -> dict[str, bytes]:
    """Every table file of a scan's output, by path: a table of more rows than a
    file holds is a folder of parts. The index is left out (the Ray engine
    writes none)."""
    found: dict[str, bytes] = {}
    for table in sorted(out.glob("*.parquet")):
        for part in sorted(table.rglob("*")) if table.is_dir() else [table]:
            if part.is_file():
                found[str(part.relative_to(out))] = part.read_bytes()
    return found


def report(runs: list[Run], args: argparse.Namespace, total_mb: float) -> str:
    lines = [
        "| engine | share | docs | MB | s | MB/s | s ÷ s at 10% | MB ÷ MB at 10% "
        "| driver peak RSS MB | driver peak own MB | largest other process MB "
        "| tree peak RSS MB (procs) | tables = embedded | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    first: dict[str, Run] = {}
    for run in runs:
        base = first.setdefault(run.engine, run)
        other = f"{run.other_mb:.0f} ({run.other_name})" if run.other_name else ""
        lines.append(
            f"| {ENGINES[run.engine][0]} | {run.fraction:.0%} | {run.docs} | {run.mb:.0f} "
            f"| {run.seconds:.1f} | {run.mb / run.seconds:.2f} "
            f"| {run.seconds / base.seconds:.2f} | {run.mb / base.mb:.2f} "
            f"| {run.driver_mb:.0f} | {run.driver_own_mb:.0f} | {other} "
            f"| {run.tree_mb:.0f} ({run.procs}) "
            f"| {run.same} | {run.note} |"
        )
    command = " ".join(["python benchmarks/scale.py", *sys.argv[1:]])
    return (
        f"`{command}`: {total_mb:.0f} MB of generated pages (`dedup.synth`, seed 0), "
        f"nested seeded samples of it, {os.cpu_count()} cores (shared, noisy machine). "
        "Times are whole `dedup scan` processes (Python and, for Ray, a local Ray instance "
        "started and stopped: about 5 s). Peak RSS sampled every 0.2 s; Ray's object store "
        "is shared memory counted in every process that maps it, so the tree figure "
        "overstates it; a driver's own memory is its RssAnon (its RSS without the pages "
        "of the object store and of files it maps).\n\n" + "\n".join(lines)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1000.0)
    parser.add_argument("--fractions", default="0.1,0.3,1")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    parser.add_argument("--engines", default="embedded,ray1,ray2")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    corpus = args.data / f"scale_{args.mb:g}mb"
    if not (corpus / "docs").is_dir():
        print(f"generating {args.mb:g} MB into {corpus}", file=sys.stderr, flush=True)
        shutil.rmtree(corpus, ignore_errors=True)
        generated_corpus(args.mb, corpus)
    docs = corpus / "docs"
    files = sorted(p for p in docs.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for fraction in sorted(float(f) for f in args.fractions.split(",")):
            root = sample(docs, files, fraction * total / 1e6, tmp / f"share{fraction}")
            shown = [p for p in root.rglob("*") if p.is_file()]
            mb = sum(p.stat().st_size for p in shown) / 1e6
            reference: dict[str, bytes] | None = None
            for engine in args.engines.split(","):
                run = Run(engine, fraction, len(shown), mb)
                out = tmp / f"out-{engine}"
                print(f"{engine} {fraction:.0%} ({mb:.0f} MB) ...", file=sys.stderr, flush=True)
                measure(run, root, out, ENGINES[engine][1], args.timeout)
                if not run.note:
                    tables = tables_of(out)
                    if engine == "embedded":
                        reference = tables
                    elif reference is not None:
                        run.same = "yes" if tables == reference else "NO"
                print(
                    f"  {run.seconds:.1f} s, driver {run.driver_mb:.0f} MB "
                    f"(own {run.driver_own_mb:.0f} MB), tree "
                    f"{run.tree_mb:.0f} MB {run.same} {run.note}",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(run)
                shutil.rmtree(out, ignore_errors=True)
    text = report(
        sorted(runs, key=lambda r: (list(ENGINES).index(r.engine), r.fraction)), args, total / 1e6
    )
    print(text)
    if args.write:
        replace_section("scale", "Scale: embedded runner and Ray engine", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
