"""The command line: parse options, build a config, call the runner, report.

Typer is imported here and nowhere else.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from dedup.config import InputConfig, NormalizeConfig, ScanConfig
from dedup.errors import ConfigError, DedupError
from dedup.progress import terminal_progress
from dedup.report import ReportLimits
from dedup.runner import ScanSummary, scan
from dedup.shards import SHARD_BYTES

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
_LIMITS = ReportLimits()
_INPUTS = InputConfig()


@app.callback()
def _root() -> None:
    """Find boilerplate passages and near-duplicate documents; write Parquet tables."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"dedup: error: {message}", err=True)
    return typer.Exit(code)


def _megabytes(flag: str, value: float | None) -> int | None:
    """`value` MB in bytes; None stays None (the default applies)."""
    if value is None:
        return None
    if not value > 0:  # also NaN
        raise ConfigError(f"{flag} must be positive, got {value}")
    return int(value * (1 << 20))


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) ends the run as Ctrl-C does."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (a test runner): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Exit codes (scan and clean): 0 done; 1 error, nothing written; 2 usage;
# 3 done, but some inputs (files or records) were skipped; 130 interrupted.
EXIT_SKIPPED = 3


def _report(summary: ScanSummary) -> None:
    index = f" and {summary.out}/index/" if (summary.out / "index").is_dir() else ""
    typer.echo(f"wrote {summary.out}/{{spans,documents,passages,errors}}.parquet{index}")
    typer.echo(f"documents:        {summary.n_documents}")
    typer.echo(f"blocks:           {summary.n_blocks}")
    typer.echo(f"boilerplate:      {summary.boilerplate_share:.1%} of {summary.n_chars} characters")
    typer.echo(
        f"near-duplicates:  {summary.n_near_dup_clusters} clusters, "
        f"{summary.n_near_dup_documents} documents"
    )
    typer.echo(f"passages:         {summary.n_passages}")
    if summary.resumed_shards:
        typer.echo(f"resumed:          {summary.resumed_shards} shards read by an earlier run")
    if summary.problems:
        typer.echo(
            f"input problems:   {summary.n_skipped} skipped, {summary.n_replaced} with bytes "
            f"replaced (see {summary.out}/errors.parquet)",
            err=True,
        )
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
    on_decode_error: Annotated[
        str,
        typer.Option(
            help="Bytes that are not UTF-8: 'replace' them with U+FFFD, 'skip' the file, or "
            "'fail'. Skipped and altered files are listed in errors.parquet."
        ),
    ] = "replace",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Threads for the compiled stages (default: every core); same tables either way.",
            show_default=False,
        ),
    ] = None,
    shard_mb: Annotated[
        float,
        typer.Option(
            help="Input megabytes per reading shard; finished shards are kept next to --out, "
            "so a rerun of an interrupted scan resumes from them."
        ),
    ] = SHARD_BYTES / (1 << 20),
    input_format: Annotated[
        str,
        typer.Option(
            help="auto (from each file name: .jsonl/.ndjson/.json, .parquet/.pq, else text; "
            ".gz/.bz2/.xz/.zst decompressed), or text, jsonl, parquet for every file."
        ),
    ] = _INPUTS.input_format,
    text_field: Annotated[
        str, typer.Option(help="JSONL field or Parquet column holding the text.")
    ] = _INPUTS.text_field,
    id_field: Annotated[
        str,
        typer.Option(
            help="JSONL field or Parquet column holding the id (without one: FILE:LINE or "
            "FILE:ROW)."
        ),
    ] = _INPUTS.id_field,
    include: Annotated[
        list[str] | None,
        typer.Option(
            help="Read only files in folders matching this glob (repeatable; with '/' it "
            "matches the path inside the folder, else the file name).",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            help="Never read files in folders matching this glob (repeatable).",
            show_default=False,
        ),
    ] = None,
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
            "prefix (file name before '__'), regex:PATTERN (first group of PATTERN in the id), "
            "or field:NAME (a field of JSONL or Parquet records)."
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
    variant_threshold: Annotated[
        float,
        typer.Option(
            help="A short unique line next to boilerplate whose words reach this Jaccard "
            "similarity with a boilerplate line's words is that line with a variable part."
        ),
    ] = _DEFAULT.variant_threshold,
    glue_words: Annotated[
        int,
        typer.Option(
            help="A repeated run of at least this many words at the start or end of a unique "
            "line next to boilerplate is a glued passage (0: off)."
        ),
    ] = _DEFAULT.glue_words,
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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress on stderr (shown only on a terminal anyway)."
        ),
    ] = False,
    index: Annotated[
        bool,
        typer.Option(
            help="Also write DIR/index/, which dedup add, check and serve use "
            "(the embedded engine only)."
        ),
    ] = True,
    engine: Annotated[
        str,
        typer.Option(
            help="embedded (this process) or ray (a Ray cluster; pip install 'dedup[ray]'); "
            "the same tables either way."
        ),
    ] = "embedded",
    address: Annotated[
        str | None,
        typer.Option(
            help="With --engine ray: auto (the cluster running here) or ray://HOST:PORT; "
            "default: a local Ray instance started for the scan, with --workers CPUs.",
            show_default=False,
        ),
    ] = None,
    object_store_mb: Annotated[
        float | None,
        typer.Option(
            help="With --engine ray, a local instance: MB of Ray's object store (default: "
            "Ray's, 30% of memory); what does not fit spills to --spill-dir.",
            show_default=False,
        ),
    ] = None,
    spill_dir: Annotated[
        Path | None,
        typer.Option(
            help="With --engine ray, a local instance: where the object store spills "
            "(default: <temp>/ray-dedup/spill); give it a disk with room for about 20 "
            "times the text (the peak measured on generated pages).",
            show_default=False,
        ),
    ] = None,
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
            variant_threshold=variant_threshold,
            glue_words=glue_words,
            lsh_fn_weight=lsh_fn_weight,
            normalize=NormalizeConfig(
                unicode_nfkc=nfkc,
                casefold=casefold,
                strip_punctuation=punctuation,
                mask_digits=digits,
            ),
        )
        inputs = InputConfig(
            input_format=input_format,
            text_field=text_field,
            id_field=id_field,
            include=tuple(include or ()),
            exclude=tuple(exclude or ()),
            on_decode_error=on_decode_error,
        )
        if shard_mb <= 0:
            raise ConfigError(f"--shard-mb must be positive, got {shard_mb}")
        if engine not in ("embedded", "ray"):
            raise ConfigError(f"--engine must be embedded or ray, got {engine!r}")
        for given, flag in (
            (address, "--address"),
            (object_store_mb, "--object-store-mb"),
            (spill_dir, "--spill-dir"),
        ):
            if given is not None and engine != "ray":
                raise ConfigError(f"{flag} needs --engine ray")
        with terminal_progress(quiet) as progress, _interruptible():
            if engine == "ray":
                from dedup.ray_engine import RaySettings, scan_ray

                local_cpus = workers if address is None else None
                settings = RaySettings(
                    address=address,
                    num_cpus=local_cpus,
                    object_store_memory=_megabytes("--object-store-mb", object_store_mb),
                    spill_dir=None if spill_dir is None else str(spill_dir),
                )
                summary = scan_ray(paths, out, cfg, force, inputs, settings, progress)
            else:
                summary = scan(
                    paths,
                    out,
                    cfg,
                    force=force,
                    workers=workers,
                    inputs=inputs,
                    progress=progress,
                    shard_bytes=max(1, int(shard_mb * (1 << 20))),
                    index=index,
                )
    except DedupError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(
            "interrupted; the previous output, if any, is unchanged; run the same command "
            "again to resume from the shards already read",
            130,
        ) from None
    _report(summary)
    if summary.n_skipped:
        # Completed, but not every input is in the tables: scripts can tell.
        raise typer.Exit(EXIT_SKIPPED)


@app.command("clean")
def clean_command(
    scan_dir: Annotated[Path, typer.Argument(metavar="SCAN_DIR", help="Output folder of a scan.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the cleaned corpus.")],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="The scanned inputs, if they moved (default: the paths the scan recorded).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet (clean.parquet), jsonl (clean.jsonl): the documents with boilerplate "
            "cut and their other fields; dolma (attributes.jsonl): the spans as Dolma "
            "attributes.",
        ),
    ] = "parquet",
    representatives_only: Annotated[
        bool,
        typer.Option(help="Keep one document of each near-duplicate cluster (its representative)."),
    ] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress line on stderr.")
    ] = False,
) -> None:
    """Write the scanned corpus with boilerplate cut (or its labels as Dolma attributes)."""
    from dedup.cleaner import clean

    try:
        with terminal_progress(quiet) as progress:
            summary = clean(
                scan_dir, out, fmt, representatives_only, paths, force, progress=progress
            )
    except DedupError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; no output was written", 130) from None
    typer.echo(f"wrote {summary.out}/{summary.file}")
    typer.echo(f"documents:        {summary.n_documents} read, {summary.n_written} written")
    if representatives_only:
        typer.echo(f"near-duplicates:  {summary.n_near_duplicates_dropped} left out")
    if fmt != "dolma":
        typer.echo(f"boilerplate cut:  {summary.chars_cut} of {summary.chars_in} characters")
    if summary.problems:
        typer.echo(
            f"input problems:   {summary.n_skipped} skipped, "
            f"{len(summary.problems) - summary.n_skipped} with bytes replaced "
            f"(as in {scan_dir}/errors.parquet)",
            err=True,
        )
    if summary.n_skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command("eval")
def eval_command(
    scan_dir: Annotated[Path, typer.Argument(metavar="SCAN_DIR", help="Output folder of a scan.")],
    docs: Annotated[Path, typer.Option(help="Folder of the scanned documents.")],
    gold: Annotated[
        Path | None,
        typer.Option(help='Gold spans, JSONL: {"doc", "boilerplate"} or {"file", FIELD}.'),
    ] = None,
    field: Annotated[
        str | None, typer.Option(help="Gold field holding the spans (default: auto).")
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(
            help='Gold near-duplicates, JSONL: {"a", "b", "duplicate"} or {"file", "cluster"}.'
        ),
    ] = None,
) -> None:
    """Score a scan against gold labels: boilerplate characters and near-duplicate pairs."""
    from dedup.evaluate import evaluate_scan

    if gold is None and pairs is None:
        raise _fail("give --gold, --pairs or both", 2)
    try:
        result = evaluate_scan(scan_dir, docs, gold, field, pairs)
    except DedupError as exc:
        raise _fail(str(exc)) from None
    if result.chars is not None:
        c = result.chars
        typer.echo(
            f"boilerplate-chars P={c.precision:.3f} R={c.recall:.3f} F1={c.f1:.3f} "
            f"content_kept={c.content_kept:.3f} docs={result.documents} "
            f"missing_docs={result.missing}"
        )
    if result.pairs is not None:
        p = result.pairs
        typer.echo(
            f"near-duplicate-pairs P={p.precision:.3f} R={p.recall:.3f} F1={p.f1:.3f} "
            f"predicted={p.predicted} gold={p.gold} "
            f"negatives_merged={p.negatives_merged}/{p.negatives}"
        )


@app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to create.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    sites: Annotated[int, typer.Option(help="Sites, each with its own template.")] = 12,
    pages: Annotated[int, typer.Option(help="Pages per site.")] = 8,
    near_duplicates: Annotated[int, typer.Option(help="Near-copies of articles.")] = 10,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Write a labelled corpus: OUT/docs/, OUT/gold.jsonl and OUT/pairs.jsonl."""
    from dedup.synth import SynthConfig, generate
    from dedup.synth_io import write_corpus

    try:
        corpus = generate(
            SynthConfig(
                seed=seed, sites=sites, pages_per_site=pages, near_duplicates=near_duplicates
            )
        )
        write_corpus(corpus, out, force)
    except DedupError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {len(corpus.ids)} documents to {out}/docs, gold.jsonl, pairs.jsonl")


_DOCS_HELP = (
    "Where the scanned documents are now, when they moved (default: the paths the scan "
    "recorded; the tables hold no text); repeat for several."
)


@app.command("report")
def report_command(
    scan_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of a scan.")],
    html: Annotated[Path, typer.Option(help="HTML file to write (one self-contained page).")],
    docs: Annotated[
        list[Path] | None, typer.Option(metavar="PATH", help=_DOCS_HELP, show_default=False)
    ] = None,
    max_docs: Annotated[
        int, typer.Option(help="Documents shown; a larger corpus is sampled, and says so.")
    ] = _LIMITS.max_docs,
    max_chars: Annotated[
        int, typer.Option(help="Characters of document text in the page, all documents together.")
    ] = _LIMITS.max_chars,
) -> None:
    """Write an HTML report: figures, top passages, documents with boilerplate highlighted."""
    from dedup.report_runner import write_report

    try:
        limits = ReportLimits(max_docs=max_docs, max_chars=max_chars)
        data = write_report(scan_dir, docs or [], html, limits)
    except DedupError as exc:
        raise _fail(str(exc)) from None
    shown = len(data.documents)
    sample = " (a sample)" if data.sampled else ""
    typer.echo(f"wrote {html}: {shown} of {data.headline.n_documents} documents shown{sample}")


@app.command("show")
def show_command(
    scan_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of a scan.")],
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (as in the tables).")],
    docs: Annotated[
        list[Path] | None, typer.Option(metavar="PATH", help=_DOCS_HELP, show_default=False)
    ] = None,
) -> None:
    """Print one document with its boilerplate highlighted, and its boilerplate spans."""
    from dedup.report_runner import show_document
    from dedup.terminal import print_document

    try:
        view = show_document(scan_dir, doc_id, docs or [])
    except DedupError as exc:
        raise _fail(str(exc)) from None
    print_document(view)


@app.command("passages")
def passages_command(
    scan_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder of a scan.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Passages to list.")] = 20,
) -> None:
    """List the most shared boilerplate passages: documents, occurrences, text."""
    from dedup.report_runner import list_passages
    from dedup.terminal import print_passages

    try:
        passages, total = list_passages(scan_dir, limit)
    except DedupError as exc:
        raise _fail(str(exc)) from None
    print_passages(passages, total)


@app.command("add")
def add_command(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="An index: the output of scan.")],
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH", show_default=False, help="Files and folders to add."),
    ],
    on_decode_error: Annotated[
        str, typer.Option(help="Bytes that are not UTF-8: 'replace', 'skip' or 'fail'.")
    ] = "replace",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Threads for the compiled stages (default: every core).", show_default=False
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress line on stderr.")
    ] = False,
) -> None:
    """Add documents to an index: the tables become those of one scan of everything."""
    from dedup.index import add

    try:
        with terminal_progress(quiet) as progress, _interruptible():
            summary = add(
                index_dir,
                paths,
                on_decode_error=on_decode_error,
                workers=workers,
                progress=progress,
            )
    except DedupError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; the index is unchanged", 130) from None
    _report(summary)
    if summary.n_skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command("check")
def check_command(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="An index: the output of scan.")],
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", show_default=False, help="Files and folders to check."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write spans.parquet and near_duplicates.parquet here instead."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing --out folder.")] = False,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON object a document.")
    ] = False,
) -> None:
    """Label documents against an index without adding them: spans and near-duplicates."""
    import json

    from dedup.index import check_paths, write_checked

    try:
        view, labelled, texts, _ = check_paths(index_dir, paths)
        if out is not None:
            write_checked(out, view, labelled, texts, force)
            typer.echo(f"wrote {out}/{{spans,near_duplicates}}.parquet ({len(labelled)} documents)")
            return
    except DedupError as exc:
        raise _fail(str(exc)) from None
    for lab, text in zip(labelled, texts, strict=True):
        if jsonl:
            typer.echo(
                json.dumps(
                    {
                        "id": lab.id,
                        "spans": [s.__dict__ for s in lab.spans],
                        "near_duplicates": [
                            {"id": i, "similarity": sim} for i, sim in lab.near_duplicates
                        ],
                    },
                    ensure_ascii=False,
                )
            )
            continue
        boiler = sum(s.end - s.start for s in lab.spans if s.label == "boilerplate")
        share = boiler / len(text) if text else 0.0
        near = ", ".join(f"{i} ({sim:.2f})" for i, sim in lab.near_duplicates) or "none"
        typer.echo(f"{lab.id}: {share:.1%} boilerplate; near-duplicates: {near}")
        for s in lab.spans:
            line = f"  {s.start:>8} {s.end:>8}  {s.label:<11}"
            if s.label == "boilerplate":
                line += f"  passage {s.passage_id}  documents {s.doc_count}  score {s.score:.3f}"
            typer.echo(line)


@app.command("serve")
def serve_command(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="An index: the output of scan.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="DEDUP_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on /v1/ (or set DEDUP_TOKEN).",
            show_default=False,
        ),
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, in MB.")] = 8.0,
    compact_seconds: Annotated[
        float, typer.Option(help="Fold added documents into the tables this long after the first.")
    ] = 5.0,
    compact_documents: Annotated[
        int, typer.Option(help="... or as soon as this many are waiting.")
    ] = 10_000,
    workers: Annotated[
        int | None,
        typer.Option(help="Threads for compaction (default: every core).", show_default=False),
    ] = None,
) -> None:
    """Serve an index over HTTP: check and add documents, look up passages."""
    try:
        from dedup.http_api import serve
    except ImportError as exc:
        raise _fail(
            f"dedup serve needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'dedup[serve]'"
        ) from None
    from dedup.service import IndexService, ServiceConfig

    try:
        service = IndexService(
            ServiceConfig(
                folder=index_dir,
                compact_seconds=compact_seconds,
                compact_documents=compact_documents,
                workers=workers,
            )
        )
    except DedupError as exc:
        raise _fail(str(exc)) from None
    serve(service, host, port, token, int(max_body_mb * 1_000_000))


def main() -> None:
    """Console entry point."""
    app(prog_name="dedup")
