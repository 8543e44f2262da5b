"""Finding input files and reading them as a stream of documents.

    list_sources(paths, cfg)  -> [Source]      every input file, how to read it, sorted by id
    read_source(source, cfg)  -> Document...   the documents of one file, lazily
    read_documents(paths, cfg) -> Document...  all of them, ids checked distinct

A file's id is its path relative to the folder given on the command line,
with `/` separators; a file given directly is identified by its name. Text
files are one document each, with that id, decoded as UTF-8 without newline
translation, so offsets point into exactly the bytes on disk (after
decompression). JSONL and Parquet files hold one document per record, named
by its id field (`dedup.read_jsonl`, `dedup.read_parquet`).

The format comes from the file name (see `InputConfig.input_format`). In a
folder that holds Parquet files (a dataset), files whose name starts with
`_` or `.` are markers (`_SUCCESS`, `_metadata`) and are not read, as
pyarrow's datasets do.

Inputs that cannot be used as they are become `Problem`s instead of stopping
the run: binary files, unreadable files, broken links, special files and
folders that cannot be listed are skipped; undecodable bytes follow the
decode policy (`dedup.decoding`). Empty files are documents with no text.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from dedup.config import InputConfig
from dedup.decoding import (
    Document,
    Problem,
    compression_of,
    decode_bytes,
    looks_binary,
    read_all,
    split_suffix,
)
from dedup.errors import ConfigError, DuplicateIdError, InputError

__all__ = [
    "Document",
    "Problem",
    "Provenance",
    "Source",
    "list_sources",
    "looks_binary",
    "read_documents",
    "read_source",
]

_JSONL = (".jsonl", ".ndjson", ".json")
_PARQUET = (".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class Source:
    """One input file and how to read it.

    `path` is absolute; `partition` holds the `key=value` folders of a
    partitioned dataset (between the given folder and the file).
    """

    id: str
    path: Path
    format: str  # "text", "jsonl" or "parquet"
    compression: str | None
    partition: tuple[tuple[str, str], ...] = ()


def detect_format(name: str, forced: str = "auto") -> tuple[str, str | None]:
    """(format, compression) of a file, from its name unless `forced` is not "auto"."""
    compression = compression_of(name)
    # Not Path: this runs once per input file.
    stem = split_suffix(name)[0] if compression else name
    if forced != "auto":
        return forced, compression
    suffix = split_suffix(stem)[1].lower()
    if suffix in _JSONL:
        return "jsonl", compression
    if suffix in _PARQUET:
        return "parquet", compression
    return "text", compression


def _shown(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_name(doc_id: str, path: Path) -> None:
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{_shown(path)}: the file name is not valid UTF-8, so it cannot be a document id; "
            "rename the file",
            _shown(path),
        ) from None


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    """A pattern with `/` matches the relative path, one without the file name."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel if "/" in p else name, p) for p in patterns)


def _walk(
    root: Path, skip: set[tuple[int, int]], problems: list[Problem]
) -> Iterator[tuple[str, str, tuple[int, int]]]:
    """(relative id, absolute path, (device, inode)) of the regular files below `root`.

    What is not a regular file is a problem; a folder whose (device, inode)
    is in `skip` is not read. Directory entries carry their type, so a file
    costs one stat (for its identity), not a path resolution.
    """

    def unlistable(exc: OSError) -> None:
        where = os.path.abspath(exc.filename or root)
        problems.append(Problem(where, where, f"cannot list: {exc.strerror or exc}", "skipped"))

    pending = [(os.path.abspath(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            unlistable(exc)
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if not skip or _identity(entry.path) not in skip:
                    pending.append((entry.path, rel + "/"))
                continue
            try:
                if entry.is_file():
                    info = entry.stat()
                    yield rel, entry.path, (info.st_dev, info.st_ino)
                    continue
            except OSError:
                pass
            shown = os.path.abspath(entry.path)
            if entry.is_symlink() and not os.path.exists(entry.path):
                problems.append(Problem(shown, rel, "cannot read: broken symbolic link", "skipped"))
            elif not entry.is_dir():
                reason = "not a regular file (pipe, socket or device)"
                problems.append(Problem(shown, rel, reason, "skipped"))


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of what `path` leads to, or None when nothing does."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _partition(rel: str) -> tuple[tuple[str, str], ...]:
    """The hive-style `key=value` folders of a relative path."""
    parts = rel.split("/")[:-1]
    return tuple(
        (unquote(key), unquote(value))
        for key, _, value in (p.partition("=") for p in parts if "=" in p)
        if key
    )


def _folder_sources(
    root: Path, cfg: InputConfig, skip: set[tuple[int, int]], problems: list[Problem]
) -> list[tuple[Source, tuple[int, int]]]:
    entries = [
        (rel, path, identity)
        for rel, path, identity in _walk(root, skip, problems)
        if (not cfg.include or _matches(rel, cfg.include)) and not _matches(rel, cfg.exclude)
    ]
    typed = [
        (rel, path, identity, *detect_format(os.path.basename(path), cfg.input_format))
        for rel, path, identity in entries
    ]
    dataset = cfg.input_format == "auto" and any(f == "parquet" for _, _, _, f, _ in typed)
    return [
        (Source(rel, Path(path), fmt, comp, _partition(rel)), identity)
        for rel, path, identity, fmt, comp in typed
        if not (dataset and os.path.basename(path).startswith(("_", ".")))
    ]


def list_sources(
    paths: Sequence[str | Path],
    cfg: InputConfig | None = None,
    skip: Sequence[str | Path] = (),
    problems: list[Problem] | None = None,
) -> list[Source]:
    """Every input file with its format, sorted by id.

    Args:
        paths: files and folders; folders are read recursively, filtered by
            `cfg.include` and `cfg.exclude` (a file given directly is always read).
        cfg: how inputs are read (default `InputConfig()`).
        skip: folders never to read (the output folder, for one).
        problems: receives entries that cannot be read (broken links, ...).

    Raises:
        InputError: a path does not exist, or no file was found.
        DuplicateIdError: two files map to the same id.
    """
    cfg = cfg or InputConfig()
    found = problems if problems is not None else []
    # Folders are compared by (device, inode): the folder itself, however it
    # is reached (a link, a relative path, a bind mount), in one stat each.
    skipped = {identity for p in skip if (identity := _identity(p)) is not None}
    by_id: dict[str, Source] = {}
    seen: set[tuple[int, int]] = set()
    for given in paths:
        root = Path(os.path.normpath(given))
        if not root.exists():
            raise InputError(f"{root}: no such file or folder", str(root))
        if root.is_dir():
            entries = _folder_sources(root, cfg, skipped, found)
        else:
            info = root.stat()
            entries = [
                (
                    Source(
                        root.name,
                        Path(os.path.abspath(root)),
                        *detect_format(root.name, cfg.input_format),
                    ),
                    (info.st_dev, info.st_ino),
                )
            ]
        for source, identity in entries:
            _check_name(source.id, source.path)
            if identity in seen:
                continue  # the same file reached through two given paths (or links)
            seen.add(identity)
            if source.id in by_id:
                raise DuplicateIdError(
                    f"{by_id[source.id].path} and {source.path} both have the id "
                    f"{source.id!r}; scan them separately or rename one",
                    str(source.path),
                )
            by_id[source.id] = source
    if not by_id:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"{shown}: no files to scan", shown)
    return [by_id[k] for k in sorted(by_id)]


def read_source(
    source: Source, cfg: InputConfig, problems: list[Problem], carry: bool = False
) -> Iterator[Document]:
    """The documents of one input file, lazily; problems appended to `problems`.

    `carry` keeps each JSONL or Parquet record's fields on its document.

    Raises:
        DecodeError: undecodable bytes with `cfg.on_decode_error == "fail"`.
    """
    if source.format == "jsonl":
        from dedup.read_jsonl import read_jsonl

        yield from read_jsonl(source.path, source.id, source.compression, cfg, problems, carry)
        return
    if source.format == "parquet":
        if source.compression is not None:
            reason = "a compressed Parquet file cannot be read; decompress it (Parquet "
            problems.append(
                Problem(str(source.path), source.id, reason + "compresses its pages)", "skipped")
            )
            return
        from dedup.read_parquet import read_parquet

        yield from read_parquet(
            source.path, source.id, cfg, problems, carry, dict(source.partition)
        )
        return
    yield from _read_text(source, cfg, problems)


def _read_text(source: Source, cfg: InputConfig, problems: list[Problem]) -> Iterator[Document]:
    path = str(source.path)
    try:
        data = read_all(source.path, source.compression)
    except OSError as exc:
        problems.append(Problem(path, source.id, f"cannot read: {exc.strerror or exc}", "skipped"))
        return
    text, problem = decode_bytes(data, cfg.on_decode_error, path)
    if problem is not None:
        reason, action = problem
        if reason.startswith("binary"):
            reason = "binary file (NUL or control bytes)"
        problems.append(Problem(path, source.id, reason, action))
    if text is not None:
        yield Document(source.id, text, path)


def location(source: Source, row: int | None) -> str:
    """Where a document is: the path, and the line or row of a record."""
    if row is None:
        return str(source.path)
    return f"{source.path} {'row' if source.format == 'parquet' else 'line'} {row}"


def read_documents(
    paths: Sequence[str | Path],
    cfg: InputConfig | None = None,
    skip: Sequence[str | Path] = (),
    problems: list[Problem] | None = None,
    carry: bool = False,
) -> Iterator[Document]:
    """Every usable input document, lazily: files in id order, records in file order.

    Skipped and altered inputs are appended to `problems` when given. Memory
    holds one file's text (or one batch of records) at a time, plus the ids
    seen so far.

    Raises:
        InputError: a path is missing or holds no file.
        DuplicateIdError: two documents have the same id; the message names both.
        DecodeError: undecodable bytes with `cfg.on_decode_error == "fail"`.
    """
    cfg = cfg or InputConfig()
    found = problems if problems is not None else []
    sources = list_sources(paths, cfg, skip, found)
    seen: dict[str, tuple[int, int | None]] = {}
    for index, source in enumerate(sources):
        for doc in read_source(source, cfg, found, carry):
            prior = seen.get(doc.id)
            if prior is not None:
                first = location(sources[prior[0]], prior[1])
                raise DuplicateIdError(
                    f"{first} and {location(source, doc.row)} both have the id {doc.id!r}; "
                    "ids must be distinct: fix the data or pass another --id-field",
                    str(source.path),
                )
            seen[doc.id] = (index, doc.row)
            yield doc


@dataclass(frozen=True)
class Provenance:
    """Where a scan's documents came from: written into its tables, read back by `dedup clean`.

    `roots` are the given paths, absolute and sorted; `origins` maps each
    document id to its (source file, line or row).
    """

    inputs: InputConfig
    roots: tuple[str, ...]
    origins: Mapping[str, tuple[str, int | None]]

    @classmethod
    def of(
        cls, paths: Sequence[str | Path], inputs: InputConfig, docs: Iterable[Document]
    ) -> Provenance:
        """The provenance of documents read from `paths` with `inputs`."""
        roots = tuple(sorted({os.path.abspath(p) for p in paths}))
        return cls(inputs, roots, {d.id: (d.source, d.row) for d in docs})

    def to_json(self) -> str:
        """`{"paths": [...], "read": {InputConfig}}`, as stored in `dedup.inputs` metadata."""
        read = json.loads(self.inputs.to_json())
        return json.dumps({"paths": list(self.roots), "read": read}, sort_keys=True)

    @staticmethod
    def parse(text: str) -> tuple[list[str], InputConfig]:
        """(paths, InputConfig) from `to_json` output.

        Raises:
            ConfigError: the text is not what `to_json` writes.
        """
        try:
            data = json.loads(text)
            paths, read = data["paths"], data["read"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"dedup.inputs metadata is not readable: {exc}") from exc
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError("dedup.inputs metadata: paths must be a list of strings")
        return paths, InputConfig.from_json(json.dumps(read))
