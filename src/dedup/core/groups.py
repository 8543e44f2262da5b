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
    field:<name>       the value of the document's field <name> (a column of
                       a JSONL or Parquet input); no value: the id's own group
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
    if spec.startswith("field:"):
        if not spec[len("field:") :]:
            raise ConfigError("--group-by field:<name> needs a field name")
        return
    if spec.startswith("regex:"):
        try:
            re.compile(spec[len("regex:") :])
        except re.error as exc:
            raise ConfigError(f"--group-by {spec!r}: invalid pattern ({exc})") from exc
        return
    raise ConfigError(
        f"--group-by must be none, folder, prefix, regex:<pattern> or field:<name>, got {spec!r}"
    )


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


def group_names(
    ids: Sequence[str], spec: str, values: Sequence[str | None] | None = None
) -> list[str] | None:
    """Group name of every id, or None when `spec` is "none" (not grouped).

    `values` are the documents' values of the field named by a `field:` spec.

    Raises:
        ConfigError: a `field:` spec without values (plain text inputs have no fields).
    """
    check_group_spec(spec)
    if spec == "none":
        return None
    if spec.startswith("field:"):
        if values is None:
            raise ConfigError(
                f"--group-by {spec}: the documents have no fields; it needs JSONL or Parquet input"
            )
        # A document without the field is a group of its own, as a regex miss is.
        return [doc_id if v is None else str(v) for doc_id, v in zip(ids, values, strict=True)]
    return [group_of(i, spec) for i in ids]
