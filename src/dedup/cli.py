"""The command line: parse options, build a config, call the runner, report.

Typer is imported here and nowhere else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dedup.config import NormalizeConfig, ScanConfig
from dedup.errors import DedupError
from dedup.runner import ScanSummary, scan

app = typer.Typer(
    name="dedup",
    add_completion=False,
    # Plain help: rich's boxed tables cut long option names at 80 columns.
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Find boilerplate passages and near-duplicate documents; write Parquet tables.",
)

_DEFAULT = ScanConfig()
_NORM = NormalizeConfig()


@app.callback()
def _root() -> None:
    """Find boilerplate passages and near-duplicate documents; write Parquet tables."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"dedup: error: {message}", err=True)
    return typer.Exit(code)


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _report(summary: ScanSummary) -> None:
    typer.echo(f"wrote {summary.out}/{{spans,documents,passages}}.parquet")
    typer.echo(f"documents:        {summary.n_documents}")
    typer.echo(f"blocks:           {summary.n_blocks}")
    typer.echo(f"boilerplate:      {summary.boilerplate_share:.1%} of {summary.n_chars} characters")
    typer.echo(
        f"near-duplicates:  {summary.n_near_dup_clusters} clusters, "
        f"{summary.n_near_dup_documents} documents"
    )
    typer.echo(f"passages:         {summary.n_passages}")
    if summary.top_passages:
        typer.echo("top passages (documents  text):")
        for p in summary.top_passages:
            typer.echo(f"  {p.doc_count:>9}  {_preview(p.text)}")


@app.command("scan")
def scan_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            show_default=False,
            help="Files and folders to scan (folders recursively).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the tables.")],
    force: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    block_mode: Annotated[
        str, typer.Option(help="Block unit: 'line' or 'paragraph' (blank-line separated).")
    ] = _DEFAULT.block_mode,
    ngram: Annotated[int, typer.Option(help="Words per shingle.")] = _DEFAULT.ngram,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations.")] = _DEFAULT.num_perm,
    seed: Annotated[int, typer.Option(help="Seed of the MinHash permutations.")] = _DEFAULT.seed,
    passage_threshold: Annotated[
        float, typer.Option(help="Jaccard similarity at which two blocks are one passage.")
    ] = _DEFAULT.passage_threshold,
    doc_threshold: Annotated[
        float, typer.Option(help="Jaccard similarity at which documents are near-duplicates.")
    ] = _DEFAULT.doc_threshold,
    min_docs: Annotated[
        int,
        typer.Option(
            help="Documents (near-duplicate clusters counted once) that make boilerplate."
        ),
    ] = _DEFAULT.min_docs,
    group_by: Annotated[
        str,
        typer.Option(
            help="Count repetition per group: none, folder (first folder of the id), "
            "prefix (file name before '__'), or regex:PATTERN (first group of PATTERN in the id)."
        ),
    ] = _DEFAULT.group_by,
    prose_words: Annotated[
        int, typer.Option(help="Blocks longer than this many words are prose (quotes, articles).")
    ] = _DEFAULT.prose_words,
    prose_min_docs: Annotated[
        int,
        typer.Option(help="Documents from which repeated prose is boilerplate on its own."),
    ] = _DEFAULT.prose_min_docs,
    common_fraction: Annotated[
        float,
        typer.Option(
            help="A repeated line alone among unique lines, in at least this share of the "
            "documents, is structure (like 'return None'), not boilerplate."
        ),
    ] = _DEFAULT.common_fraction,
    absorb_words: Annotated[
        int,
        typer.Option(
            help="A unique block of at most this many words between two boilerplate blocks "
            "is boilerplate (0: off)."
        ),
    ] = _DEFAULT.absorb_words,
    lsh_fn_weight: Annotated[
        float,
        typer.Option(
            help="Weight of missed pairs when choosing LSH bands (datasketch's weights); "
            "candidates are verified exactly, so higher finds more at little cost."
        ),
    ] = _DEFAULT.lsh_fn_weight,
    nfkc: Annotated[bool, typer.Option(help="Unicode NFKC before hashing.")] = _NORM.unicode_nfkc,
    casefold: Annotated[bool, typer.Option(help="Ignore case when hashing.")] = _NORM.casefold,
    punctuation: Annotated[
        bool, typer.Option("--strip-punctuation/--keep-punctuation", help="Ignore punctuation.")
    ] = _NORM.strip_punctuation,
    digits: Annotated[
        bool, typer.Option("--mask-digits/--keep-digits", help="Treat all numbers alike.")
    ] = _NORM.mask_digits,
) -> None:
    """Label every character of every document as unique or boilerplate."""
    try:
        cfg = ScanConfig(
            block_mode=block_mode,  # type: ignore[arg-type]  # validated by ScanConfig
            ngram=ngram,
            num_perm=num_perm,
            seed=seed,
            passage_threshold=passage_threshold,
            doc_threshold=doc_threshold,
            min_docs=min_docs,
            group_by=group_by,
            prose_words=prose_words,
            prose_min_docs=prose_min_docs,
            common_fraction=common_fraction,
            absorb_words=absorb_words,
            lsh_fn_weight=lsh_fn_weight,
            normalize=NormalizeConfig(
                unicode_nfkc=nfkc,
                casefold=casefold,
                strip_punctuation=punctuation,
                mask_digits=digits,
            ),
        )
        summary = scan(paths, out, cfg, force=force)
    except DedupError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; no output was written", 130) from None
    _report(summary)


def main() -> None:
    """Console entry point."""
    app(prog_name="dedup")
    sys.exit(0)
