"""Frozen, validated configuration of a scan.

A config holds values only. It round-trips through JSON (`to_json` /
`from_json`) and is recorded in the metadata of every Parquet file a scan
writes, so every output says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from dedup.core.groups import check_group_spec
from dedup.core.lsh import optimal_params
from dedup.errors import ConfigError

BlockMode = Literal["line", "paragraph"]
BLOCK_MODES: tuple[str, ...] = ("line", "paragraph")
INPUT_FORMATS: tuple[str, ...] = ("auto", "text", "jsonl", "parquet")
DECODE_POLICIES: tuple[str, ...] = ("replace", "skip", "fail")


@dataclass(frozen=True)
class NormalizeConfig:
    """How block text is normalised before hashing.

    Normalisation never changes offsets: it only decides which blocks hash
    alike. Offsets always point into the original text.
    """

    unicode_nfkc: bool = True
    casefold: bool = True
    strip_punctuation: bool = True
    mask_digits: bool = True

    def __post_init__(self) -> None:
        _check_types(self)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (int, float),
    "str": str,
    "bool": bool,
}


def _check_types(cfg: object) -> None:
    """ConfigError naming the first field whose value has the wrong type.

    A config read from JSON could hold "5" for 5; catching that here keeps
    the error at the edge, with the field's name, instead of deep in a stage.
    """
    for item in dataclasses.fields(cfg):  # type: ignore[arg-type]
        value = getattr(cfg, item.name)
        expected = _FIELD_TYPES.get(str(item.type))
        if item.name == "normalize":
            ok = isinstance(value, NormalizeConfig)
        elif item.name == "block_mode":
            ok = isinstance(value, str)
        elif expected is None:
            continue
        else:
            ok = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
        if not ok:
            raise ConfigError(f"config {item.name!r}: {value!r} is not a {item.type}")


@dataclass(frozen=True)
class ScanConfig:
    """Every parameter of `dedup scan`.

    Attributes:
        block_mode: "line" (every non-blank line is a block) or "paragraph"
            (blank-line-separated paragraphs).
        ngram: words per shingle; a block shorter than this is one shingle.
        num_perm: MinHash permutations.
        seed: seed of the MinHash permutations (datasketch's `seed`).
        passage_threshold: Jaccard similarity at which two blocks are the same
            passage (LSH threshold and verification cut).
        doc_threshold: Jaccard similarity at which two documents are
            near-duplicates.
        min_docs: a passage is boilerplate when it occurs in at least this
            many documents, counting each near-duplicate cluster once.
        normalize: normalisation applied before hashing.
        group_by: how documents are grouped for counting (see
            `dedup.core.groups`): "none", "folder" (first folder of the id),
            "prefix" (file name before "__"), or "regex:<pattern>" (first
            capture group, else the whole match, of the pattern on the id),
            or "field:<name>" (a field of JSONL or Parquet records).
        prose_words: a block of more words than this is prose; prose repeated
            across groups (or, without groups, in fewer than
            `prose_min_docs` documents) is quoted or syndicated text unless
            it sits in a run with shorter repeated blocks.
        prose_min_docs: documents from which repeated prose counts on its own.
        common_fraction: a repeated block standing alone among unique blocks
            (not first or last in its document) that occurs in at least this
            share of the documents, and in at least `prose_min_docs` of them
            (like `return None` or `}`), is structure, not boilerplate.
        absorb_words: a unique block of at most this many words between two
            boilerplate blocks (a menu with one item added) is boilerplate;
            0 turns this off.
        variant_threshold: a short unique line next to boilerplate whose
            set of words reaches this Jaccard similarity with a
            boilerplate line of its group is that line with a variable
            part (a typo, a title, a changed word); lines of fewer than 4
            words are never variants; 1.0 keeps only reordered lines.
        glue_words: a repeated run of at least this many words at the start
            or end of a unique block next to boilerplate is a glued passage
            ("... end of article. Subscribe to our newsletter."); 0 turns
            this off.
        lsh_fn_weight: weight of false negatives when choosing LSH bands and
            rows, as datasketch's `MinHashLSH(weights=(1 - w, w))`. Every
            candidate is verified on exact Jaccard similarity, so a false
            positive only costs a check while a false negative is lost:
            0.9 finds ~87% of pairs exactly at the threshold, 0.5 only ~40%.
    """

    block_mode: BlockMode = "line"
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1
    passage_threshold: float = 0.7
    doc_threshold: float = 0.8
    min_docs: int = 2
    normalize: NormalizeConfig = NormalizeConfig()
    group_by: str = "none"
    prose_words: int = 20
    prose_min_docs: int = 4
    common_fraction: float = 0.1
    absorb_words: int = 10
    lsh_fn_weight: float = 0.9
    variant_threshold: float = 0.5
    glue_words: int = 8

    def __post_init__(self) -> None:
        _check_types(self)
        if self.block_mode not in BLOCK_MODES:
            raise ConfigError(
                f"--block-mode must be one of {', '.join(BLOCK_MODES)}, got {self.block_mode!r}"
            )
        if not 1 <= self.ngram <= 64:
            raise ConfigError(f"--ngram must be between 1 and 64, got {self.ngram}")
        if not 2 <= self.num_perm <= 1024:
            raise ConfigError(f"--num-perm must be between 2 and 1024, got {self.num_perm}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed must be in [0, 2**32), got {self.seed}")
        for name in ("passage_threshold", "doc_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                option = "--" + name.replace("_", "-")
                raise ConfigError(f"{option} must be strictly between 0 and 1, got {value}")
        if self.min_docs < 2:
            raise ConfigError(f"--min-docs must be at least 2, got {self.min_docs}")
        if self.prose_words < 1:
            raise ConfigError(f"--prose-words must be at least 1, got {self.prose_words}")
        if self.prose_min_docs < self.min_docs:
            raise ConfigError(
                f"--prose-min-docs must be at least --min-docs ({self.min_docs}), "
                f"got {self.prose_min_docs}"
            )
        if not 0.0 < self.common_fraction <= 1.0:
            raise ConfigError(f"--common-fraction must be in (0, 1], got {self.common_fraction}")
        if self.absorb_words < 0:
            raise ConfigError(f"--absorb-words must be at least 0, got {self.absorb_words}")
        if not 0.0 < self.variant_threshold <= 1.0:
            raise ConfigError(
                f"--variant-threshold must be in (0, 1], got {self.variant_threshold}"
            )
        if self.glue_words < 0:
            raise ConfigError(f"--glue-words must be at least 0, got {self.glue_words}")
        if not 0.0 < self.lsh_fn_weight < 1.0:
            raise ConfigError(
                f"--lsh-fn-weight must be strictly between 0 and 1, got {self.lsh_fn_weight}"
            )
        check_group_spec(self.group_by)

    @property
    def passage_lsh(self) -> tuple[int, int]:
        """(bands, rows) for block similarity, as datasketch's MinHashLSH picks them."""
        return optimal_params(
            self.passage_threshold, self.num_perm, 1.0 - self.lsh_fn_weight, self.lsh_fn_weight
        )

    @property
    def doc_lsh(self) -> tuple[int, int]:
        """(bands, rows) for document similarity, as datasketch's MinHashLSH picks them."""
        return optimal_params(
            self.doc_threshold, self.num_perm, 1.0 - self.lsh_fn_weight, self.lsh_fn_weight
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, nested normalize section included."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, so equal configs give equal bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanConfig:
        """Inverse of `to_dict`; ConfigError names unknown keys and wrong values."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        values = dict(data)
        if "normalize" in values and isinstance(values["normalize"], dict):
            try:
                values["normalize"] = NormalizeConfig(**values["normalize"])
            except TypeError as exc:
                raise ConfigError(f"invalid normalize section: {exc}") from exc
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ScanConfig:
        """Inverse of `to_json`; ConfigError when the text is not a JSON object."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("config JSON must be an object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class InputConfig:
    """How inputs are found and read; recorded with a scan so `clean` can re-read them alike.

    Attributes:
        input_format: "auto" (from each file's name: `.jsonl`/`.ndjson`/`.json`
            are JSON Lines, `.parquet`/`.pq` Parquet, anything else text; a
            compression suffix `.gz`, `.bz2`, `.xz` or `.zst` is looked
            through), or "text", "jsonl", "parquet" for every file.
        text_field: field (JSONL) or column (Parquet) holding the text.
        id_field: field or column holding the document id; a record without
            one is named `<file id>:<line or row>`.
        include: glob patterns; when given, a file found in a folder is read
            only if one matches. A pattern with `/` matches the path relative
            to the folder, one without matches the file name.
        exclude: glob patterns (same rules) of files in folders never read.
        on_decode_error: bytes that are not UTF-8: "replace" them with U+FFFD
            (recorded), "skip" the file or record (recorded), or "fail".
    """

    input_format: str = "auto"
    text_field: str = "text"
    id_field: str = "id"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    on_decode_error: str = "replace"

    def __post_init__(self) -> None:
        _check_types(self)
        if self.input_format not in INPUT_FORMATS:
            raise ConfigError(
                f"--input-format must be one of {', '.join(INPUT_FORMATS)}, "
                f"got {self.input_format!r}"
            )
        if self.on_decode_error not in DECODE_POLICIES:
            raise ConfigError(
                f"--on-decode-error must be one of {', '.join(DECODE_POLICIES)}, "
                f"got {self.on_decode_error!r}"
            )
        for name in ("text_field", "id_field"):
            if not getattr(self, name):
                raise ConfigError(f"--{name.replace('_', '-')} must not be empty")
        if self.text_field == self.id_field:
            raise ConfigError(
                f"--text-field and --id-field must differ, both are {self.text_field!r}"
            )
        for name in ("include", "exclude"):
            patterns = getattr(self, name)
            if not isinstance(patterns, tuple) or not all(
                isinstance(p, str) and p for p in patterns
            ):
                raise ConfigError(f"--{name} takes non-empty glob patterns, got {patterns!r}")

    def to_json(self) -> str:
        """Canonical JSON, as recorded in the tables' metadata."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> InputConfig:
        """Inverse of `to_json`; ConfigError names what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"input config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("input config JSON must be an object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown input config keys: {', '.join(unknown)}")
        for name in ("include", "exclude"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        return cls(**data)
