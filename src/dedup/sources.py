"""Reading input documents from files and folders.

A document's id is its path relative to the folder given on the command line,
with `/` separators; a file given directly is identified by its name. Files
are read in sorted id order and decoded as UTF-8 without newline translation,
so offsets point into exactly the bytes on disk.

Inputs that cannot be used as they are become `Problem`s instead of stopping
the run: binary files (a NUL byte, or mostly control characters) and
unreadable files are skipped; bytes that are not UTF-8 are replaced with
U+FFFD (`on_decode_error="replace"`, the default), or the file is skipped
("skip"), or the run stops with `DecodeError` ("fail"). Empty files are
documents with no text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dedup.errors import ConfigError, DecodeError, DuplicateIdError, InputError

DECODE_POLICIES = ("replace", "skip", "fail")
# How much of a file is sniffed for binary content.
_SNIFF = 8192
# Bytes that are neither printable nor ordinary text layout: deleting every
# other byte leaves just these, so counting them is one C call.
_KEEP_CONTROLS = bytes(b for b in range(32) if b not in b"\t\n\r\f\v\x1b")
_DROP_OTHERS = bytes(b for b in range(256) if b not in _KEEP_CONTROLS)


@dataclass(frozen=True)
class Problem:
    """An input that was skipped or altered, and why."""

    path: str
    id: str
    reason: str
    action: str  # "skipped" or "replaced"


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
    seen: set[Path] = set()
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
            real = path.resolve()
            if real in seen:
                continue  # the same file reached through two given paths
            seen.add(real)
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


def looks_binary(data: bytes) -> bool:
    """A NUL byte, or more than 30% control characters, in the first 8 KiB."""
    head = data[:_SNIFF]
    if b"\x00" in head:
        return True
    controls = len(head.translate(None, _DROP_OTHERS))
    return bool(head) and controls > 0.3 * len(head)


def read_documents(
    paths: Sequence[str | Path],
    skip: Sequence[str | Path] = (),
    on_decode_error: str = "replace",
    problems: list[Problem] | None = None,
) -> Iterator[Document]:
    """Every usable input document, in sorted id order (see `list_inputs`).

    Skipped and altered inputs are appended to `problems` when given.

    Raises:
        DecodeError: a file is not UTF-8 and `on_decode_error` is "fail".
        ConfigError: `on_decode_error` is not one of DECODE_POLICIES.
    """
    if on_decode_error not in DECODE_POLICIES:
        raise ConfigError(
            f"--on-decode-error must be one of {', '.join(DECODE_POLICIES)}, "
            f"got {on_decode_error!r}"
        )
    found = problems if problems is not None else []
    for doc_id, path in list_inputs(paths, skip):
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            found.append(Problem(source, doc_id, f"cannot read: {exc.strerror or exc}", "skipped"))
            continue
        if looks_binary(data):
            found.append(Problem(source, doc_id, "binary file (NUL or control bytes)", "skipped"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if on_decode_error == "fail":
                raise DecodeError(
                    f"{source}: not valid UTF-8 at byte {exc.start}; convert the file to UTF-8, "
                    "leave it out, or pass --on-decode-error replace or skip",
                    source,
                ) from exc
            reason = f"not valid UTF-8 from byte {exc.start}"
            if on_decode_error == "skip":
                found.append(Problem(source, doc_id, reason, "skipped"))
                continue
            text = data.decode("utf-8", errors="replace")
            found.append(
                Problem(source, doc_id, reason + "; invalid bytes became U+FFFD", "replaced")
            )
        yield Document(doc_id, text, source)
