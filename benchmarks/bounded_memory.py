"""A Ray scan of a corpus larger than the memory it is given completes, with the embedded tables.

    sudo python benchmarks/bounded_memory.py [--mb 1000] [--limit-mb 6000]
        [--object-store-mb 1500] [--cpus 2] [--data benchmarks/data] [--write]

Issue 7 asks that "a corpus larger than the cluster's memory completes". The
cluster here is one machine's Ray instance, its memory a Linux memory cgroup
(v1 or v2) that the benchmark makes and puts the scan in: the `dedup scan
--engine ray` process, and so Ray's GCS, raylet, object store (shared memory
is charged to the group that touches it) and workers. The group's limit counts
everything they hold, page cache included, and the kernel stops or kills what
goes over it. Making the group needs root; without it the script says so.

The corpus is --mb MB of `dedup.synth` pages as JSONL files of about 32 MB
(one read task each), generated in chunks of 250 MB with seeds 1, 2, ...
and kept under --data/bounded: a larger corpus adds chunks to a smaller
one, and no chunk repeats another. The embedded runner scans it outside the group
first, as the reference; the Ray scan's tables must equal its tables byte
for byte. Reported: wall time, the group's peak charge (`memory.max_usage_in_bytes`
or `memory.peak`), how often it hit its limit, OOM kills, and the bytes Ray
spilled to disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from results_md import replace_section  # benchmarks/ is on sys.path when run
from scale import tables_of

ROOT = Path(__file__).resolve().parent.parent
CHUNK_MB = 250.0
FILE_MB = 32.0
CGROUP = Path("/sys/fs/cgroup")


def make_corpus(megabytes: float, out: Path) -> list[Path]:
    """About `megabytes` MB of generated pages as JSONL files under `out`; returns the files.

    Chunk k (seed k) is generated only when its files are missing, so a run
    with a larger --mb keeps the chunks already written.
    """
    from dedup.synth import SynthConfig, generate

    out.mkdir(parents=True, exist_ok=True)
    chunks = max(1, math.ceil(megabytes / CHUNK_MB))
    for k in range(1, chunks + 1):
        done = out / f".chunk{k:03d}.done"
        if done.exists():
            continue
        mb = min(CHUNK_MB, megabytes - (k - 1) * CHUNK_MB)
        pages = max(8, round(mb * 1e6 / 3300))
        sites = max(2, min(200, pages // 100))
        print(
            f"generating chunk {k}/{chunks} ({mb:.0f} MB) into {out}", file=sys.stderr, flush=True
        )
        corpus = generate(
            SynthConfig(
                seed=k,
                sites=sites,
                pages_per_site=math.ceil(pages / sites),
                near_duplicates=pages // 20,
                quote_pairs=pages // 50,
            )
        )
        # Shuffled into files so that each file mixes sites, as crawl shards do.
        files = max(1, round(mb / FILE_MB))
        lines: list[list[str]] = [[] for _ in range(files)]
        for n, (doc_id, text) in enumerate(zip(corpus.ids, corpus.texts, strict=True)):
            row = json.dumps({"id": f"c{k:03d}/{doc_id}", "text": text}, ensure_ascii=False)
            lines[n % files].append(row)
        for f, rows in enumerate(lines):
            path = out / f"chunk{k:03d}-{f:03d}.jsonl"
            staging = path.with_suffix(".tmp")
            staging.write_text("\n".join(rows) + "\n", encoding="utf-8")
            staging.replace(path)
        done.touch()
    return sorted(p for k in range(1, chunks + 1) for p in out.glob(f"chunk{k:03d}-*.jsonl"))


@dataclass
class Group:
    """A memory cgroup the scan runs in, and how to read what it charged."""

    path: Path
    v2: bool

    def read(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    @property
    def peak_bytes(self) -> int:
        return int(self.read("memory.peak" if self.v2 else "memory.max_usage_in_bytes"))

    @property
    def limit_hits(self) -> int:
        if self.v2:
            return _field(self.read("memory.events"), "max")
        return int(self.read("memory.failcnt"))

    @property
    def oom_kills(self) -> int:
        events = self.read("memory.events" if self.v2 else "memory.oom_control")
        return _field(events, "oom_kill")

    def held_bytes(self) -> int:
        """Anonymous memory plus shared memory (the object store) charged now: what
        the kernel cannot drop, unlike the page cache of files read or spilled."""
        stat = self.read("memory.stat")
        if self.v2:
            return _field(stat, "anon") + _field(stat, "shmem")
        return _field(stat, "total_rss") + _field(stat, "total_shmem")


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


@contextmanager
def memory_group(limit_bytes: int) -> Iterator[Group]:
    """A new memory cgroup limited to `limit_bytes` (no swap beyond it), removed after."""
    name = f"dedup-bounded-{os.getpid()}"
    v2 = (CGROUP / "cgroup.controllers").exists()
    path = CGROUP / name if v2 else CGROUP / "memory" / name
    try:
        path.mkdir()
    except OSError as exc:
        raise SystemExit(
            f"cannot make the memory cgroup {path} ({exc.strerror}): run this benchmark "
            "as root on Linux with the memory controller mounted"
        ) from None
    try:
        if v2:
            (path / "memory.max").write_text(str(limit_bytes))
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            memsw = path / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(limit_bytes))
        yield Group(path, v2)
    finally:
        # Ray's processes may outlive a scan that failed or was stopped.
        for _ in range(50):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.2)


@dataclass
class Result:
    seconds: float
    returncode: int
    error: str
    held_mb: float = 0.0
    spill_mb: float = 0.0


def run_scan(
    command: list[str], group: Group | None, timeout: float, spill: Path | None = None
) -> Result:
    """`command` in a fresh process, inside `group` from before it starts.

    Every 0.5 s, samples what the group holds (`Group.held_bytes`) and the
    size of the `spill` folder, which Ray empties when it stops.
    """
    procs = None if group is None else group.path / "cgroup.procs"

    def join_group() -> None:
        if procs is not None:
            procs.write_text(str(os.getpid()))

    result = Result(0.0, -1, "")
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.5):
            if group is not None:
                result.held_mb = max(result.held_mb, group.held_bytes() / (1 << 20))
            if spill is not None and spill.exists():
                result.spill_mb = max(result.spill_mb, folder_bytes(spill) / 1e6)

    thread = threading.Thread(target=sampler, daemon=True)
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=join_group
    )
    thread.start()
    try:
        _, err = child.communicate(timeout=timeout)
        lines = err.strip().splitlines()
        result.returncode, result.error = child.returncode, lines[-1] if lines else ""
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        result.error = f"no result within {timeout:.0f} s"
    finally:
        stop.set()
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def folder_bytes(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        # Ray deletes spilled objects as they are freed.
        with contextlib.suppress(FileNotFoundError):
            total += p.stat().st_size if p.is_file() else 0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults: the run recorded in RESULTS.md, which completes.
    parser.add_argument("--mb", type=float, default=1000.0, help="corpus size")
    parser.add_argument("--limit-mb", type=float, default=6000.0, help="the group's memory")
    parser.add_argument(
        "--object-store-mb", type=float, default=1500.0, help="Ray's object store, in the group"
    )
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--skip-embedded", action="store_true", help="no reference run")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    files = make_corpus(args.mb, args.data / "bounded")
    text_mb = sum(p.stat().st_size for p in files) / 1e6
    docs = sum(p.read_bytes().count(b"\n") for p in files)  # a document a line
    dedup = str(Path(sys.executable).with_name("dedup"))
    base = [dedup, "scan", *map(str, files), "--input-format", "jsonl", "--force", "-q"]
    with tempfile.TemporaryDirectory(prefix="dedup-bounded-", dir=args.data) as tmp_name:
        tmp = Path(tmp_name)
        reference: dict[str, bytes] | None = None
        embedded = None
        if not args.skip_embedded:
            print(f"embedded runner on {text_mb:.0f} MB ...", file=sys.stderr, flush=True)
            embedded = run_scan(
                [*base, "--out", str(tmp / "embedded"), "--workers", str(args.cpus)],
                None,
                args.timeout,
            )
            if embedded.returncode != 0:
                print(f"embedded run failed: {embedded.error}", file=sys.stderr)
                return 1
            reference = tables_of(tmp / "embedded")
            shutil.rmtree(tmp / "embedded")
        spill = tmp / "spill"
        command = [
            *base,
            "--out",
            str(tmp / "ray"),
            "--engine",
            "ray",
            "--workers",
            str(args.cpus),
            "--object-store-mb",
            f"{args.object_store_mb:g}",
            "--spill-dir",
            str(spill),
        ]
        print(
            f"Ray engine on {text_mb:.0f} MB in {args.limit_mb:g} MB ...",
            file=sys.stderr,
            flush=True,
        )
        with memory_group(int(args.limit_mb * (1 << 20))) as group:
            ray = run_scan(command, group, args.timeout, spill)
            peak, hits, kills = group.peak_bytes, group.limit_hits, group.oom_kills
        same = "not compared"
        if ray.returncode == 0 and reference is not None:
            same = "yes" if tables_of(tmp / "ray") == reference else "NO"
    rows = [
        "| run | text MB | documents | memory given MB | s | MB/s | peak charged MB "
        "| peak held MB (anonymous + shared) | spill folder peak MB | limit hits "
        "| OOM kills | exit | tables = embedded |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if embedded is not None:
        rows.append(
            f"| embedded runner, {args.cpus} workers, no limit | {text_mb:.0f} | {docs} | - "
            f"| {embedded.seconds:.1f} | {text_mb / embedded.seconds:.2f} | - | - | - | - | - "
            "| 0 | - |"
        )
    rows.append(
        f"| Ray engine, {args.cpus} CPUs, object store {args.object_store_mb:g} MB "
        f"| {text_mb:.0f} | {docs} | {args.limit_mb:g} | {ray.seconds:.1f} "
        f"| {text_mb / ray.seconds:.2f} | {peak / (1 << 20):.0f} | {ray.held_mb:.0f} "
        f"| {ray.spill_mb:.0f} | {hits} | {kills} | {ray.returncode} | {same} |"
    )
    command_line = " ".join(["python benchmarks/bounded_memory.py", *sys.argv[1:]])
    text = (
        f"`{command_line}` (as root): {len(files)} JSONL files of generated pages "
        f"(`dedup.synth`, seeds 1-{math.ceil(args.mb / CHUNK_MB)}), {os.cpu_count()} cores. "
        f"The Ray scan ran in a memory cgroup of {args.limit_mb:g} MB (MiB) holding the "
        "driver and every Ray process. Its peak charge counts their memory, the object "
        "store's shared memory and the page cache of the files they read and wrote, which "
        "the kernel drops at the limit; the peak held is what it cannot drop (anonymous "
        "plus shared memory), sampled every 0.5 s, as is the size of Ray's spill folder.\n\n"
        + (f"Last line of the failed run: `{ray.error}`\n\n" if ray.returncode else "")
        + "\n".join(rows)
    )
    print(text)
    if args.write:
        replace_section(
            "bounded", "Bounded memory: a corpus larger than the cluster's memory", text
        )
    return 0 if ray.returncode == 0 and same in ("yes", "not compared") else 1


if __name__ == "__main__":
    sys.exit(main())
