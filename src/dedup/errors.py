"""The one exception hierarchy of dedup.

    DedupError                 base: every error dedup raises on purpose
    ├── ConfigError            an option or config value is invalid; fix the call
    ├── InputError             a document or input path cannot be used
    │   ├── DecodeError        bytes that are not valid UTF-8
    │   └── DuplicateIdError   two inputs map to the same document id
    └── OutputError            the output cannot be written (exists, disk full, ...)

A distributed runner may skip the document or shard behind an `InputError` and
report it; `ConfigError` and `OutputError` stop the whole run. Every message
names the file, offset or option concerned and says what to do.
"""

from __future__ import annotations


class DedupError(Exception):
    """Base class of every error dedup raises deliberately."""


class ConfigError(DedupError):
    """A configuration value or command-line option is invalid."""


class InputError(DedupError):
    """An input path or document cannot be read or used.

    `path` names the offending input when there is one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DecodeError(InputError):
    """A file's bytes are not valid UTF-8."""


class DuplicateIdError(InputError):
    """Two inputs produce the same document id."""


class OutputError(DedupError):
    """The output folder or one of its files cannot be written, or a work file beside it read."""
