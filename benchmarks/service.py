"""Load on `dedup serve`: requests/s and latency of /v1/check, memory of the server.

    python benchmarks/service.py --docs 100000 --clients 8 --seconds 30 --write

1. Generates a labelled corpus with `dedup.synth` (sites with templates,
   near-copies) of `--docs` documents plus `--queries` held out, and scans
   it into an index (cached in --work between runs with the same sizes).
2. Starts `dedup serve` on a free loopback port and waits for /healthz
   (the time to open the index is reported).
3. From this process (a second process), `--clients` threads each keep one
   HTTP connection and post held-out documents to /v1/check for
   `--seconds`; requests/s, p50/p99/max latency and errors are counted.
4. Reads the server's resident memory (current and peak) from /proc.
5. Adds `--add` documents with POST /v1/documents and times the compaction
   that folds them in (POST /v1/compact): what `add` costs at this size.

Only loopback traffic; bounded in time. `--write` records the figures in
benchmarks/RESULTS.md between `<!-- service:begin -->` and `<!-- service:end -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from dedup import ScanConfig, scan
from dedup.synth import SynthConfig, generate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import replace_section

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def build(work: Path, n_docs: int, n_queries: int) -> tuple[Path, list[tuple[str, str]], dict]:
    """The index (scanned once per size) and the held-out query documents."""
    sites = max(2, n_docs // 200)
    pages = (n_docs + n_queries) // sites + 1
    t0 = time.perf_counter()
    corpus = generate(
        SynthConfig(
            seed=11,
            sites=sites,
            pages_per_site=pages,
            paragraphs=(1, 3),
            near_duplicates=n_docs // 50,
        )
    )
    generated = time.perf_counter() - t0
    ids, texts = corpus.ids, corpus.texts
    # Every k-th document is held out as a query; the rest is the index.
    step = max(1, len(ids) // n_queries)
    queries = [(ids[i], texts[i]) for i in range(0, len(ids), step)][:n_queries]
    held = {q[0] for q in queries}
    docs = [(i, t) for i, t in zip(ids, texts, strict=True) if i not in held][:n_docs]
    index = work / f"index-{n_docs}"
    info = {"documents": len(docs), "chars": sum(len(t) for _, t in docs), "generate_s": generated}
    timing = work / f"index-{n_docs}.json"
    if timing.is_file():
        info |= json.loads(timing.read_text())
    if not (index / "index" / "texts.parquet").is_file():
        source = work / f"docs-{n_docs}"
        source.mkdir(parents=True, exist_ok=True)
        for doc_id, text in docs:
            (source / doc_id).write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        scan([source], index, ScanConfig(), force=True)
        info["scan_s"] = time.perf_counter() - t0
        timing.write_text(json.dumps({"scan_s": info["scan_s"]}))
    size = sum(p.stat().st_size for p in (index / "index").rglob("*") if p.is_file())
    tables = sum(p.stat().st_size for p in index.glob("*.parquet"))
    info |= {"index_mb": size / 1e6, "tables_mb": tables / 1e6}
    return index, queries, info


def load(url: str, queries: list[tuple[str, str]], clients: int, seconds: float) -> dict:
    """`clients` threads posting /v1/check for `seconds`; latencies in ms."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def run(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            n = k
            while time.monotonic() < stop:
                _, text = queries[n % len(queries)]
                n += clients
                t0 = time.perf_counter()
                response = client.post("/v1/check", json={"text": text})
                latencies[k].append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    errors[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    every = sorted(x for part in latencies for x in part)
    return {
        "requests": len(every),
        "errors": sum(errors),
        "rps": len(every) / elapsed,
        "p50": statistics.median(every),
        "p99": every[int(0.99 * (len(every) - 1))],
        "max": every[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--add", type=int, default=100, help="documents added after the load")
    parser.add_argument("--work", type=Path, default=HERE / "data" / "service")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    pristine, queries, info = build(args.work, args.docs, args.queries)
    # The server adds documents: it works on a copy, the cached index stays as scanned.
    index = args.work / "serving"
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(pristine, index)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = args.work / "serve.log"
    t0 = time.perf_counter()
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from dedup.cli import main; main()",
                "serve",
                str(index),
                "--port",
                str(port),
                "--compact-seconds",
                "3600",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise SystemExit(f"dedup serve exited; see {log}") from None
                time.sleep(0.2)
        opened = time.perf_counter() - t0
        idle_rss, _ = _rss_mb(server.pid)
        load(url, queries, args.clients, 2.0)  # warm-up
        alone = load(url, queries, 1, min(10.0, args.seconds))
        figures = load(url, queries, args.clients, args.seconds)
        rss, peak = _rss_mb(server.pid)
        adds = [(f"added/{i:05d}.txt", queries[i % len(queries)][1]) for i in range(args.add)]
        with httpx.Client(base_url=url, timeout=3600) as client:
            t0 = time.perf_counter()
            client.post(
                "/v1/documents", json={"documents": [{"id": i, "text": t} for i, t in adds]}
            ).raise_for_status()
            acknowledged = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.post("/v1/compact").raise_for_status()
            compacted = time.perf_counter() - t0
            stats = client.get("/v1/stats").json()
        _, peak_after_add = _rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)

    command = (
        f"python benchmarks/service.py --docs {args.docs} --clients {args.clients} "
        f"--seconds {args.seconds:g} --write"
    )
    rows = [
        (
            "index",
            f"{info['documents']:,} documents, {info['chars'] / 1e6:.0f} M characters "
            f"(dedup.synth: {args.docs // 200} sites, near-copies)",
        ),
        (
            "index on disk",
            f"{info['index_mb']:.0f} MB in index/, {info['tables_mb']:.0f} MB tables",
        ),
        ("dedup serve start (open index, build lookup)", f"{opened:.1f} s"),
        (
            "load",
            f"{args.clients} client threads in a second process, loopback, "
            f"{args.seconds:g} s, {args.queries} held-out documents",
        ),
        ("/v1/check requests/s", f"{figures['rps']:.0f}"),
        (
            "/v1/check latency p50 / p99 / max",
            f"{figures['p50']:.1f} / {figures['p99']:.1f} / {figures['max']:.1f} ms",
        ),
        ("requests / errors", f"{figures['requests']} / {figures['errors']}"),
        (
            "one client alone: requests/s, latency p50 / p99",
            f"{alone['rps']:.0f}, {alone['p50']:.1f} / {alone['p99']:.1f} ms",
        ),
        (
            "server memory (RSS) idle / after load / peak",
            f"{idle_rss:.0f} / {rss:.0f} / {peak:.0f} MB",
        ),
        (f"POST /v1/documents, {args.add} documents (durable)", f"{acknowledged * 1000:.0f} ms"),
        (
            f"compaction folding them into {stats['documents']:,} documents",
            f"{compacted:.1f} s, peak RSS {peak_after_add:.0f} MB",
        ),
    ]
    if "scan_s" in info:
        rows.insert(2, ("dedup scan of the index", f"{info['scan_s']:.1f} s"))
    table = "\n".join(["| | |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    body = (
        f"{table}\n\nMachine: {machine}; server and clients share it.\n\nProduced by `{command}`."
    )
    print(body)
    if args.write:
        replace_section("service", "Service", body)


if __name__ == "__main__":
    main()
