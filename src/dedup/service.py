"""The index as a long-running service: checks, durable adds, background compaction.

`IndexService` is what `dedup serve` puts behind HTTP (`dedup.http_api`);
it imports no web framework, so it is tested and used without one.

- **Reads** (`check`, `passage`, `document`, `stats`) use the current
  `IndexView`, an immutable snapshot: a reader never sees a half-written
  index, and a compaction replaces the snapshot in one assignment.
- **Writes** (`add`) are serialised by one lock. A document is
  acknowledged once its record is in the log and the log is flushed to
  disk (`dedup.wal`); it is *pending* until a compaction folds it into
  the tables.
- **Compaction** runs in a background thread when documents have been
  pending for `compact_seconds`, or `compact_documents` of them wait: the
  log is rotated, stored and pending texts are analysed together (no lock
  held: reads and adds go on), and the folder is replaced atomically with
  the log written meanwhile carried over. A crash at any point loses
  nothing acknowledged: the log is replayed on the next start.
- One process writes an index: the service holds the index's lock file
  for its whole life (`index.writer_lock`), so `dedup add` waits its turn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedup.errors import ConfigError, DuplicateIdError
from dedup.index import (
    LOG_DIR,
    IndexView,
    Labels,
    open_index,
    stage,
    stats,
    writer_lock,
)
from dedup.output import fsync_folder
from dedup.wal import LogWriter, Record, read_log

log = logging.getLogger("dedup.service")

# Longest document id accepted (ids become file-like names in the tables).
MAX_ID_CHARS = 1024


@dataclass(frozen=True)
class ServiceConfig:
    """How a service runs its index.

    Attributes:
        folder: the index (an output folder of `dedup scan`).
        compact_seconds: fold pending documents into the tables this long
            after the first of them was acknowledged.
        compact_documents: ... or as soon as this many are pending.
        workers: threads of the compiled stages during compaction.
        max_batch: documents accepted in one add.
    """

    folder: Path
    compact_seconds: float = 5.0
    compact_documents: int = 10_000
    workers: int | None = None
    max_batch: int = 1000

    def __post_init__(self) -> None:
        if self.compact_seconds < 0:
            raise ConfigError(f"--compact-seconds must be >= 0, got {self.compact_seconds}")
        if self.compact_documents < 1:
            raise ConfigError(f"--compact-documents must be >= 1, got {self.compact_documents}")
        if self.max_batch < 1:
            raise ConfigError(f"max_batch must be >= 1, got {self.max_batch}")


@dataclass(frozen=True)
class Added:
    """An acknowledged document: its log sequence number and its labels when added."""

    seq: int
    labels: Labels


def check_id(doc_id: str) -> None:
    """Raise ConfigError unless `doc_id` can be a document id."""
    if not doc_id or len(doc_id) > MAX_ID_CHARS:
        raise ConfigError(f"a document id has 1 to {MAX_ID_CHARS} characters, got {len(doc_id)}")
    check_text(doc_id, "id")


def check_text(text: str, what: str = "text") -> None:
    """Raise ConfigError when `text` cannot be written as UTF-8 (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"{what}: not valid Unicode at character {exc.start} (a lone surrogate); "
            "send UTF-8 text"
        ) from None


class IndexService:
    """An open index that answers checks and takes durable adds (see the module docstring).

    Raises (at construction):
        InputError: the folder is not an index, or its log is corrupt.
        OutputError: another process writes the index.
    """

    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.folder = cfg.folder
        self._lock_hold = contextlib.ExitStack()
        self._lock_hold.enter_context(writer_lock(self.folder))
        try:
            self._view = open_index(self.folder)
            applied = self._view.applied_seq
            records = [r for r in read_log(self.folder / LOG_DIR) if r.seq > applied]
            self._pending: dict[str, Record] = {r.id: r for r in records}
            last = max([applied, *(r.seq for r in records)])
            self._log = LogWriter(self.folder / LOG_DIR, last + 1)
        except BaseException:
            self._lock_hold.close()
            raise
        self._write = threading.Lock()
        self._wake = threading.Condition(self._write)
        self._oldest = time.monotonic() - cfg.compact_seconds if records else 0.0
        self._stop = False
        self._compactions = 0
        self._last_compaction: dict[str, Any] | None = None
        self._compacting = threading.Lock()
        self._thread = threading.Thread(target=self._compactor, name="dedup-compactor", daemon=True)
        self._thread.start()
        if records:
            log.info("%d acknowledged documents from the log will be folded in", len(records))

    @property
    def view(self) -> IndexView:
        """The current snapshot of the index."""
        return self._view

    def check(self, text: str, doc_id: str | None = None, group: str | None = None) -> Labels:
        """Labels of a document against the index; changes nothing.

        Raises:
            ConfigError: the text or id is not valid Unicode.
        """
        check_text(text)
        if doc_id is not None:
            check_id(doc_id)
        if group is not None:
            check_text(group, "group")
        return self._view.check(text, doc_id, group)

    def add(self, docs: Sequence[tuple[str, str]]) -> list[Added]:
        """Acknowledge documents: log them durably; their labels as `check` gives them now.

        The documents are pending until the next compaction; their labels
        in the tables may then differ (README, "How check relates to add").

        Raises:
            ConfigError: no document, too many, or an invalid id or text.
            DuplicateIdError: an id is indexed, pending, or given twice.
            OutputError: the log cannot be written (nothing acknowledged).
        """
        if not docs:
            raise ConfigError("no document to add")
        if len(docs) > self.cfg.max_batch:
            raise ConfigError(f"at most {self.cfg.max_batch} documents per add, got {len(docs)}")
        seen: set[str] = set()
        for doc_id, text in docs:
            check_id(doc_id)
            check_text(text)
            if doc_id in seen:
                raise DuplicateIdError(f"{doc_id}: given twice in one add", doc_id)
            seen.add(doc_id)
        view = self._view
        labels = [view.check(text, doc_id) for doc_id, text in docs]
        with self._write:
            for doc_id, _ in docs:
                if doc_id in self._pending or self._view.row(doc_id) is not None:
                    raise DuplicateIdError(f"{doc_id}: already in the index", doc_id)
            records = self._log.append(docs)
            if not self._pending:
                self._oldest = time.monotonic()
            for record in records:
                self._pending[record.id] = record
            self._wake.notify()
        return [Added(r.seq, lab) for r, lab in zip(records, labels, strict=True)]

    def document(self, doc_id: str) -> dict[str, Any] | None:
        """An indexed document's row with `status` "indexed", a pending one's "pending", or None."""
        row = self._view.document(doc_id)
        if row is not None:
            return {**row, "status": "indexed"}
        record = self._pending.get(doc_id)
        if record is not None:
            return {
                "id": doc_id,
                "status": "pending",
                "seq": record.seq,
                "n_chars": len(record.text),
            }
        return None

    def passage(self, passage_id: int) -> dict[str, Any] | None:
        """A passage's row of passages.parquet, None when unknown."""
        return self._view.passage(passage_id)

    def stats(self) -> dict[str, Any]:
        """Figures of the index, the pending documents and the compactions."""
        return {
            **stats(self._view),
            "pending": len(self._pending),
            "compactions": self._compactions,
            "last_compaction": self._last_compaction,
            "config": self._view.cfg.to_dict(),
        }

    def compact(self) -> bool:
        """Fold the pending documents into the tables now; False when none was pending.

        Raises:
            DedupError: the index cannot be re-analysed or written; the
                documents stay pending (and in the log).
        """
        with self._compacting:
            with self._write:
                if not self._pending:
                    return False
                upto = self._log.rotate()
                batch = [r for r in self._pending.values() if r.seq <= upto]
            began = time.monotonic()
            staged = stage(
                self.folder,
                [r.id for r in batch],
                [r.text for r in batch],
                [],
                upto,
                self.cfg.workers,
            )
            with self._write:
                rebuilt = staged.write(keep=self._keep_log)
                self._log.close()
                self._view = rebuilt.view
                self._pending = {i: r for i, r in self._pending.items() if r.seq > upto}
                if self._pending:
                    self._oldest = time.monotonic()
            self._compactions += 1
            self._last_compaction = {
                "documents": len(batch),
                "seconds": round(time.monotonic() - began, 3),
                "applied_seq": upto,
            }
            log.info(
                "folded %d documents into the index in %.1f s", len(batch), time.monotonic() - began
            )
            return True

    def _keep_log(self, staging: Path) -> None:
        """Put the live log segments into the staging folder, so they survive the swap."""
        live = self._log.live()
        if not live:
            return
        folder = staging / LOG_DIR
        folder.mkdir()
        for segment in live:
            try:
                os.link(segment, folder / segment.name)
            except OSError:
                shutil.copy2(segment, folder / segment.name)
                with open(folder / segment.name, "rb+") as handle:
                    os.fsync(handle.fileno())
        fsync_folder(folder)

    def _due(self) -> bool:
        if not self._pending:
            return False
        waited = time.monotonic() - self._oldest
        return len(self._pending) >= self.cfg.compact_documents or (
            waited >= self.cfg.compact_seconds
        )

    def _compactor(self) -> None:
        while True:
            with self._write:
                while not self._stop and not self._due():
                    timeout = None
                    if self._pending:
                        timeout = max(
                            0.05, self.cfg.compact_seconds - (time.monotonic() - self._oldest)
                        )
                    self._wake.wait(timeout)
                if self._stop:
                    return
            try:
                self.compact()
            except Exception:
                # The documents stay in the log and pending; try again later.
                log.exception("compaction failed; pending documents are kept and retried")
                with self._write:
                    self._oldest = time.monotonic()

    def close(self) -> None:
        """Stop compacting (after the one running) and release the index."""
        with self._write:
            self._stop = True
            self._wake.notify()
        self._thread.join()
        with self._write:
            self._log.close()
        self._lock_hold.close()
