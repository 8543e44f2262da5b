"""Drawing for a terminal (rich): a document with its boilerplate highlighted, and passages.

Colours follow rich's detection: a terminal gets them, a pipe gets plain
text (`FORCE_COLOR=1` or `NO_COLOR=1` override it), and the span table
under a document says where each boilerplate span is either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dedup.report import DocumentView, Passage

# One background per passage of a document, in order of first appearance.
_STYLES = (
    "black on yellow",
    "black on bright_cyan",
    "black on bright_magenta",
    "black on bright_green",
    "black on bright_red",
    "black on bright_blue",
)


def _preview(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def passage_styles(view: DocumentView) -> dict[int, str]:
    """A style for each passage of a document, by passage id, in order of first appearance."""
    styles: dict[int, str] = {}
    for seg in view.segments:
        if seg.passage_id is not None and seg.passage_id not in styles:
            styles[seg.passage_id] = _STYLES[len(styles) % len(_STYLES)]
    return styles


def document_text(view: DocumentView) -> Text:
    """The document's text with each boilerplate span in its passage's style."""
    styles = passage_styles(view)
    text = Text(no_wrap=False)
    for seg in view.segments:
        style = styles[seg.passage_id] if seg.passage_id is not None else ""
        text.append(seg.text, style=style)
    return text


def _table(headers: Sequence[str], rows: list[list[str | Text]], width: int, **kw: object) -> Table:
    """A borderless table whose last column (text) is cut to what width the others leave.

    rich squeezes other columns to nothing when one no-wrap cell is too wide,
    so the text is cut here, before rich lays the table out.
    """
    table = Table(box=None, pad_edge=False, **kw)  # type: ignore[arg-type]
    for name in headers[:-1]:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column(headers[-1], no_wrap=True)
    fixed = sum(
        max([len(name), *(len(str(row[i])) for row in rows)]) + 2
        for i, name in enumerate(headers[:-1])
    )
    room = max(width - fixed - 1, 20)
    for row in rows:
        table.add_row(*row[:-1], _preview(str(row[-1]), room))
    return table


def print_document(view: DocumentView, console: Console | None = None) -> None:
    """Print the document's id and figures, its highlighted text, then a table of its spans.

    `console` defaults to one on stdout.
    """
    console = console or Console()
    styles = passage_styles(view)
    meta = f"{view.n_chars:,} characters, {view.boilerplate_fraction:.1%} boilerplate"
    if view.cluster_id is not None:
        meta += f", near-duplicate cluster {view.cluster_id}"
    console.print(Text(view.id, style="bold"), Text(f"({meta})", style="dim"))
    console.rule(style="dim")
    console.print(document_text(view), highlight=False, markup=False)
    console.rule(style="dim")
    if not styles:
        console.print("no boilerplate in this document", style="dim")
        return
    rows: list[list[str | Text]] = []
    at = 0
    for seg in view.segments:
        start, at = at, at + len(seg.text)
        if seg.passage_id is None:
            continue
        rows.append(
            [
                str(start),
                str(at),
                Text(str(seg.passage_id), style=styles[seg.passage_id]),
                f"{seg.doc_count:,}" if seg.doc_count is not None else "",
                f"{seg.score:.2f}" if seg.score is not None else "",
                seg.text,
            ]
        )
    headers = ["start", "end", "passage", "documents", "score", "text"]
    console.print(
        _table(headers, rows, console.width, title="boilerplate spans", title_justify="left"),
        highlight=False,
    )


def print_passages(passages: Sequence[Passage], total: int, console: Console | None = None) -> None:
    """Print the passages table (see `passages_table`) at the console's width (stdout's)."""
    console = console or Console()
    if not passages:
        console.print("no boilerplate passages in this scan")
        return
    console.print(passages_table(passages, total, console.width), highlight=False)


def passages_table(passages: Sequence[Passage], total: int, width: int) -> Table:
    """The passages, most shared first: counts, id and a one-line preview fitting `width`."""
    caption = f"{len(passages)} of {total:,} passages" if total > len(passages) else None
    rows: list[list[str | Text]] = [
        [str(rank), f"{p.doc_count:,}", f"{p.n_occurrences:,}", str(p.passage_id), p.text]
        for rank, p in enumerate(passages, 1)
    ]
    headers = ["#", "documents", "occurrences", "passage", "text"]
    return _table(headers, rows, width, caption=caption, caption_justify="left")
