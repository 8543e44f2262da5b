"""The HTTP API of `dedup serve`: FastAPI over an `IndexService`.

Imported only to serve (`dedup serve`, the tests): nothing else in dedup
imports FastAPI, which is the optional extra `dedup[serve]`.

    POST /v1/check            label a document against the index
    POST /v1/documents        add documents (one, or a batch), durably
    GET  /v1/documents/{id}   an indexed or pending document
    GET  /v1/passages/{id}    a passage
    GET  /v1/stats            figures of the index
    POST /v1/compact          fold pending documents in now
    GET  /healthz             liveness, never behind the token

Request bodies over `max_body` bytes get 413; with a token, /v1/ needs
`Authorization: Bearer <token>` (401 otherwise).
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of
# the endpoints defined inside `create_app`, which name its local variables.

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dedup import __version__
from dedup.errors import ConfigError, DedupError, DuplicateIdError, InputError, OutputError
from dedup.index import Labels
from dedup.service import MAX_ID_CHARS, IndexService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INT64 = 2**63
DocId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckRequest(_Strict):
    """A document to label: its text, and optionally its id and `--group-by` group."""

    text: str
    id: DocId | None = None
    group: str | None = Field(None, max_length=MAX_ID_CHARS)


class DocumentIn(_Strict):
    """A document to add: a new id and its text."""

    id: DocId
    text: str


class Batch(_Strict):
    """Documents to add together."""

    documents: list[DocumentIn] = Field(min_length=1)


class SpanOut(BaseModel):
    """A span: half-open code-point offsets, as in spans.parquet."""

    start: int
    end: int
    label: Literal["unique", "boilerplate"]
    passage_id: int | None
    doc_count: int | None
    score: float | None


class NearDuplicate(BaseModel):
    """An indexed document that the checked one nearly duplicates."""

    id: str
    similarity: float


class CheckResponse(BaseModel):
    spans: list[SpanOut]
    near_duplicates: list[NearDuplicate]


class Added(CheckResponse):
    """An acknowledged document: durable, pending until the next compaction."""

    id: str
    seq: int
    status: Literal["pending"] = "pending"


class AddResponse(BaseModel):
    documents: list[Added]


class PassageOut(BaseModel):
    """A row of passages.parquet."""

    passage_id: int
    doc_count: int
    n_documents: int
    n_occurrences: int
    text: str
    id: str
    start: int
    end: int


class DocumentOut(BaseModel):
    """A document: `indexed` (a row of documents.parquet) or `pending` (in the log)."""

    id: str
    status: Literal["indexed", "pending"]
    n_chars: int
    seq: int | None = None
    boilerplate_chars: int | None = None
    boilerplate_fraction: float | None = None
    near_dup_cluster: int | None = None
    is_representative: bool | None = None
    group: str | None = None


class Stats(BaseModel):
    documents: int
    passages: int
    characters: int
    boilerplate_characters: int
    near_duplicate_documents: int
    applied_seq: int
    pending: int
    compactions: int
    last_compaction: dict[str, float | int] | None
    config: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Compacted(BaseModel):
    compacted: bool


class Problem(BaseModel):
    detail: str


def _labels(labels: Labels) -> dict[str, Any]:
    return {
        "spans": [span.__dict__ for span in labels.spans],
        "near_duplicates": [{"id": i, "similarity": s} for i, s in labels.near_duplicates],
    }


class BodyLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        # Read the body here, so that a streamed one is refused before the app sees it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(service: IndexService, token: str | None = None, max_body: int = 8 << 20) -> FastAPI:
    """The FastAPI application of a service."""
    bearer = HTTPBearer(auto_error=False, description="The server's --token")

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "Missing or wrong bearer token"},
        413: {"model": Problem, "description": "Request body too large"},
    }
    app = FastAPI(
        title="dedup",
        version=__version__,
        description="Boilerplate spans and near-duplicates of documents, "
        "against a persistent index.",
    )
    secured = [Depends(authorised)]

    @app.exception_handler(DedupError)
    async def _dedup_error(request: Request, exc: DedupError) -> JSONResponse:
        status = 400
        if isinstance(exc, DuplicateIdError):
            status = 409
        elif isinstance(exc, ConfigError | InputError):
            status = 422
        elif isinstance(exc, OutputError):
            status = 503
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the index is open."""
        return {"status": "ok", "version": __version__}

    @app.post(
        "/v1/check",
        response_model=CheckResponse,
        dependencies=secured,
        responses={**errors, 422: {"description": "Invalid request"}},
        tags=["documents"],
    )
    def check(request: CheckRequest) -> dict[str, Any]:
        """Label a document against the index without adding it."""
        return _labels(service.check(request.text, request.id, request.group))

    @app.post(
        "/v1/documents",
        response_model=AddResponse,
        dependencies=secured,
        responses={
            **errors,
            409: {"model": Problem, "description": "An id is already in the index"},
            503: {"model": Problem, "description": "The log cannot be written"},
        },
        tags=["documents"],
    )
    def add(request: DocumentIn | Batch) -> dict[str, Any]:
        """Add one document or a batch; acknowledged once durable, labelled as `check` does."""
        docs = request.documents if isinstance(request, Batch) else [request]
        added = service.add([(d.id, d.text) for d in docs])
        return {
            "documents": [
                {"id": d.id, "seq": a.seq, "status": "pending", **_labels(a.labels)}
                for d, a in zip(docs, added, strict=True)
            ]
        }

    @app.get(
        "/v1/documents/{doc_id:path}",
        response_model=DocumentOut,
        dependencies=secured,
        responses={**errors, 404: {"model": Problem, "description": "No such document"}},
        tags=["documents"],
    )
    def document(doc_id: str) -> dict[str, Any]:
        """An indexed document's figures, or a pending one's status."""
        row = service.document(doc_id)
        if row is None:
            raise HTTPException(404, f"{doc_id}: no such document in the index or its log")
        return row

    @app.get(
        "/v1/passages/{passage_id}",
        response_model=PassageOut,
        dependencies=secured,
        responses={**errors, 404: {"model": Problem, "description": "No such passage"}},
        tags=["passages"],
    )
    def passage(passage_id: Annotated[int, Path(ge=-INT64, lt=INT64)]) -> dict[str, Any]:
        """A passage: its document counts and the text of a representative occurrence."""
        row = service.passage(passage_id)
        if row is None:
            raise HTTPException(404, f"passage {passage_id}: not in the index")
        return row

    @app.get(
        "/v1/stats", response_model=Stats, dependencies=secured, responses=errors, tags=["service"]
    )
    def stats() -> dict[str, Any]:
        """Figures of the index, its pending documents and compactions."""
        return service.stats()

    @app.post(
        "/v1/compact",
        response_model=Compacted,
        dependencies=secured,
        responses={**errors, 503: {"model": Problem, "description": "The index cannot be written"}},
        tags=["service"],
    )
    def compact() -> dict[str, bool]:
        """Fold pending documents into the tables now (otherwise done in the background)."""
        return {"compacted": service.compact()}

    app.add_middleware(BodyLimit, limit=max_body)
    return app


def serve(service: IndexService, host: str, port: int, token: str | None, max_body: int) -> None:
    """Run the API with uvicorn until interrupted; the service is closed on the way out."""
    import uvicorn

    try:
        uvicorn.run(create_app(service, token, max_body), host=host, port=port, log_level="info")
    finally:
        service.close()
