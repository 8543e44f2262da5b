"""Reading input documents from files and folders.

A document's id is its path relative to the folder given on the command line,
with `/` separators; a file given directly is identified by its name. Files
are read in sorted id order, decoded as strict UTF-8 without newline
translation, so offsets point into exactly the bytes on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dedup.errors import DecodeError, DuplicateIdError, InputError


@dataclass(frozen=True)
class Document:
    """One input document: its id, its text and where it came from."""

    id: str
    text: str
    source: str


def _walk(root: Path, skip: set[Path]) -> Iterator[Path]:
    """Regular files below `root`, in no particular order, leaving out `skip` folders."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).resolve() not in skip]
        for name in files:
            path = here / name
            if path.is_file():
                yield path


def _check_name(doc_id: str, path: Path) -> None:
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise InputError(
            f"{shown}: the file name is not valid UTF-8, so it cannot be a document id; "
            "rename the file",
            shown,
        ) from None


def list_inputs(
    paths: Sequence[str | Path], skip: Sequence[str | Path] = ()
) -> list[tuple[str, Path]]:
    """(id, path) of every input file, sorted by id.

    Args:
        paths: files and folders; folders are read recursively.
        skip: folders never to read (the output folder, for one).

    Raises:
        InputError: a path does not exist, or no file was found.
        DuplicateIdError: two files map to the same id.
    """
    skipped = {Path(p).resolve() for p in skip}
    found: dict[str, Path] = {}
    for given in paths:
        root = Path(os.path.normpath(given))
        if not root.exists():
            raise InputError(f"{root}: no such file or folder", str(root))
        if root.is_dir():
            entries = [(p.relative_to(root).as_posix(), p) for p in _walk(root, skipped)]
        else:
            entries = [(root.name, root)]
        for doc_id, path in entries:
            _check_name(doc_id, path)
            if found.get(doc_id) == path:
                continue  # the same file reached through two given paths
            if doc_id in found:
                raise DuplicateIdError(
                    f"{found[doc_id]} and {path} both have the id {doc_id!r}; "
                    "scan them separately or rename one",
                    str(path),
                )
            found[doc_id] = path
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"{shown}: no files to scan", shown)
    return sorted(found.items())


def decode(data: bytes, source: str) -> str:
    """Strict UTF-8 decoding; the error names the file and the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"{source}: not valid UTF-8 at byte {exc.start}; "
            "convert the file to UTF-8 or leave it out of the scan",
            source,
        ) from exc


def read_documents(
    paths: Sequence[str | Path], skip: Sequence[str | Path] = ()
) -> Iterator[Document]:
    """Every input document, in sorted id order (see `list_inputs`)."""
    for doc_id, path in list_inputs(paths, skip):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})", str(path)) from exc
        yield Document(doc_id, decode(data, str(path)), str(path))
