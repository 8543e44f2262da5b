"""`dedup serve` as a real process on a free loopback port: every endpoint, auth, limits,
a SIGKILL after acknowledged adds, and schemathesis over its OpenAPI schema."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from dedup import ScanConfig, scan

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
APPEAL = "A Message from The Moscow Times:"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A `dedup serve` process; its output goes to a file next to the index."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = folder.parent / f"serve-{self.port}.log"
        env = {**os.environ, "DEDUP_TOKEN": TOKEN}
        command = "from dedup.cli import main; main()"
        argv = [sys.executable, "-c", command, "serve", str(folder), "--port", str(self.port)]
        with open(self.output, "wb") as sink:
            self.process = subprocess.Popen(
                [*argv, *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"dedup serve exited: {self.output.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"dedup serve did not answer within 60 s: {self.output.read_text()}")

    def client(self, auth: bool = True) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH if auth else {}, timeout=60)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "idx"
    scan([seeds_dir], folder, ScanConfig())
    return folder


@pytest.fixture(scope="module")
def server(index: Path) -> Iterator[Server]:
    """One server for the module (starting one takes seconds); bodies over 50 kB are refused."""
    running = Server(index, "--compact-seconds", "0.2", "--max-body-mb", "0.05")
    yield running
    running.stop()


def test_every_endpoint(server: Server, seeds_dir: Path) -> None:
    text = (seeds_dir / "002_a3aad72eae653e04.txt").read_text(encoding="utf-8")
    with server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"

        checked = client.post("/v1/check", json={"text": text + "\nOne more line.\n"})
        assert checked.status_code == 200, checked.text
        body = checked.json()
        spans = body["spans"]
        assert spans[0]["start"] == 0 and spans[-1]["end"] == len(text) + 16
        appeal = [s for s in spans if text[s["start"] : s["end"]].startswith(APPEAL)]
        assert appeal and appeal[0]["label"] == "boilerplate"
        # A near-copy of 002 joins its group: the appeal still counts 5 groups, not 6.
        assert appeal[0]["doc_count"] == 5
        assert body["near_duplicates"][0]["id"] == "002_a3aad72eae653e04.txt"

        passage = client.get(f"/v1/passages/{appeal[0]['passage_id']}")
        assert passage.status_code == 200
        assert passage.json()["text"].startswith(APPEAL)
        assert passage.json()["doc_count"] == 5
        assert client.get("/v1/passages/12345").status_code == 404

        before = client.get("/v1/stats").json()
        assert before["documents"] == 5 and before["pending"] == 0

        added = client.post(
            "/v1/documents",
            json={
                "documents": [{"id": "new/a.txt", "text": text[:3000]}, {"id": "b.txt", "text": ""}]
            },
        )
        assert added.status_code == 200, added.text
        rows = added.json()["documents"]
        assert [r["id"] for r in rows] == ["new/a.txt", "b.txt"]
        assert [r["status"] for r in rows] == ["pending", "pending"]
        assert rows[1]["spans"] == []
        single = client.post(
            "/v1/documents", json={"id": "c.txt", "text": "Support The Moscow Times!"}
        )
        assert single.status_code == 200, single.text
        assert single.json()["documents"][0]["spans"][0]["label"] == "boilerplate"

        again = client.post("/v1/documents", json={"id": "b.txt", "text": "again"})
        assert again.status_code == 409
        assert "already in the index" in again.json()["detail"]

        assert client.post("/v1/compact").status_code == 200
        document = client.get("/v1/documents/new/a.txt")
        assert document.status_code == 200
        assert document.json()["status"] == "indexed"
        assert document.json()["n_chars"] == 3000
        assert client.get("/v1/documents/nothing.txt").status_code == 404
        after = client.get("/v1/stats").json()
        assert after["documents"] == 8 and after["pending"] == 0
    # What the service wrote is what `dedup add` writes: the tables hold the new documents.
    ids = pq.read_table(server.folder / "documents.parquet").column("id").to_pylist()
    assert {"new/a.txt", "b.txt", "c.txt"} <= set(ids)


def test_auth_validation_and_size_limit(server: Server) -> None:
    with server.client(auth=False) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        refused = anonymous.post("/v1/check", json={"text": "hello"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        wrong = anonymous.get("/v1/stats", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
    with server.client() as client:
        assert client.post("/v1/check", json={}).status_code == 422
        assert client.post("/v1/check", json={"text": 5}).status_code == 422
        assert client.post("/v1/check", json={"text": "a", "extra": 1}).status_code == 422
        assert client.post("/v1/check", content=b"{not json").status_code == 422
        assert client.post("/v1/documents", json={"documents": []}).status_code == 422
        surrogate = client.post(
            "/v1/check",
            content=b'{"text": "\\ud800"}',
            headers={"content-type": "application/json"},
        )
        assert surrogate.status_code == 422
        assert "surrogate" in surrogate.json()["detail"]
        big = client.post("/v1/check", json={"text": "x" * 60_000})
        assert big.status_code == 413

        def chunks() -> Iterator[bytes]:
            yield b'{"text": "'
            for _ in range(60):
                yield b"y" * 1000
            yield b'"}'

        streamed = client.post(
            "/v1/check", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413


def test_acknowledged_adds_survive_sigkill(tmp_path: Path, seeds_dir: Path) -> None:
    """Kill -9 right after a batch of acknowledged adds: a restart finds every one of them."""
    folder = tmp_path / "idx"
    scan([seeds_dir], folder, ScanConfig())
    # Compaction far away: the documents are only in the log when the process dies.
    server = Server(folder, "--compact-seconds", "3600")
    acknowledged: list[str] = []
    try:
        with server.client() as client:
            for batch in range(4):
                docs = [
                    {
                        "id": f"k{batch}-{i}.txt",
                        "text": f"Support The Moscow Times!\nnote {batch} {i}",
                    }
                    for i in range(5)
                ]
                response = client.post("/v1/documents", json={"documents": docs})
                assert response.status_code == 200, response.text
                acknowledged += [d["id"] for d in response.json()["documents"]]
    finally:
        server.kill()
    assert (folder / "log").is_dir()

    restarted = Server(folder, "--compact-seconds", "3600")
    try:
        with restarted.client() as client:
            for doc_id in acknowledged:
                found = client.get(f"/v1/documents/{doc_id}")
                assert found.status_code == 200, doc_id
            # The log is replayed at start: the documents are folded in right away.
            deadline = time.monotonic() + 60
            while client.get("/v1/stats").json()["pending"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.get("/v1/stats").json()["pending"] == 0
            for doc_id in acknowledged:
                assert client.get(f"/v1/documents/{doc_id}").json()["status"] == "indexed"
    finally:
        restarted.kill()
    # Killed again after compaction: nothing is pending, nothing is lost.
    ids = set(pq.read_table(folder / "documents.parquet").column("id").to_pylist())
    assert set(acknowledged) <= ids and len(ids) == 5 + len(acknowledged)


def test_a_second_writer_is_refused(index: Path, server: Server) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from dedup.cli import main; main()", "serve", str(index)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "another dedup process" in done.stderr


def test_openapi_schema_finds_no_server_error(server: Server) -> None:
    """Generated requests for every operation, valid and invalid, never get a 5xx.

    Schemathesis reads the live schema; each operation gets its own
    hypothesis run (schemathesis' pytest plugin does not load on this pytest).
    """
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 7
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for operation, mode in itertools.product(operations, modes):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

        try:
            exercise()
        except Unsatisfiable:
            # Nothing to make invalid: an operation without parameters or body.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label


def test_only_serving_imports_fastapi() -> None:
    script = (
        "import sys, dedup.cli, dedup.index, dedup.service, dedup.runner; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_serve_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, index: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from dedup.cli import app

    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    monkeypatch.delitem(sys.modules, "dedup.http_api", raising=False)
    result = CliRunner().invoke(app, ["serve", str(index)])
    assert result.exit_code == 1
    assert "pip install 'dedup[serve]'" in result.stderr
