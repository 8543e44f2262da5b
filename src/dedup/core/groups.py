"""Grouping documents for counting: sites, folders, or the user's own pattern.

Repetition inside a group (the pages of one site) is strong evidence of
boilerplate; the same words in two groups (a quote in two sites' articles) is
weak evidence. A group spec is a string:

    none               every document in one group
    folder             the first folder of the id ("site/a.txt" -> "site"); a
                       file at the top has a group of its own (its id)
    prefix             the file name before "__" ("site__a.txt" -> "site")
    regex:<pattern>    the first capture group of <pattern> searched in the
                       id, or the whole match; no match: the id's own group
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dedup.errors import ConfigError

_FIXED = ("none", "folder", "prefix")


def check_group_spec(spec: str) -> None:
    """Raise ConfigError unless `spec` is a valid group spec."""
    if spec in _FIXED:
        return
    if spec.startswith("regex:"):
        try:
            re.compile(spec[len("regex:") :])
        except re.error as exc:
            raise ConfigError(f"--group-by {spec!r}: invalid pattern ({exc})") from exc
        return
    raise ConfigError(f"--group-by must be none, folder, prefix or regex:<pattern>, got {spec!r}")


def group_of(doc_id: str, spec: str) -> str:
    """The group name of one document id under `spec`."""
    if spec == "none":
        return ""
    if spec == "folder":
        head, sep, _ = doc_id.partition("/")
        return head if sep else doc_id
    if spec == "prefix":
        name = doc_id.rsplit("/", 1)[-1]
        head, sep, _ = name.partition("__")
        return head if sep else name
    match = re.search(spec[len("regex:") :], doc_id)
    if match is None:
        return doc_id
    return match.group(1) if match.groups() and match.group(1) is not None else match.group(0)


def group_names(ids: Sequence[str], spec: str) -> list[str] | None:
    """Group name of every id, or None when `spec` is "none" (not grouped)."""
    check_group_spec(spec)
    if spec == "none":
        return None
    return [group_of(i, spec) for i in ids]
