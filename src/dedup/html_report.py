"""The HTML report: one self-contained page drawn from a `ReportData`.

Everything is inline (CSS, a few lines of script, the histogram as SVG):
the page fetches nothing and opens offline. Every piece of document or
passage text, id and config value goes through `html.escape`, so a corpus
of HTML pages is shown as text, never run as markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator

from dedup.report import (
    ClusterView,
    DiffRow,
    DocumentView,
    PassageRow,
    ReportData,
    word_changes,
)

# Distinct highlight colours for the top passages; the rest share a grey.
_COLOURS = 8
_PREVIEW = 160
# Links to documents shown per passage before the rest fold away.
_LINKS = 5

_CSS = """
:root { --ink: #1d2430; --muted: #5b6575; --line: #d9dee7; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 18px 24px 48px; }
h1 { font-size: 24px; margin: 4px 0 2px; } h2 { font-size: 19px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
.sub, .note, .meta { color: var(--muted); } .note { margin: 4px 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 14px; flex: 1 1 140px; }
.card b { display: block; font-size: 22px; } .card span { color: var(--muted); font-size: 13px; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: stretch; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.panel h3 { font-family: inherit; margin-bottom: 6px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg rect.bar { fill: #4f7cac; } svg text.n { fill: var(--ink); }
.config { flex: 1; min-width: 320px; }
.config code { display: inline-block; margin: 2px 4px 2px 0; padding: 1px 6px;
  background: var(--bg); border: 1px solid var(--line); border-radius: 4px; font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.count { font-weight: 700; font-size: 17px; }
.ptext { max-width: 640px; }
details summary { cursor: pointer; color: var(--muted); font-size: 13px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;
  font: 13px/1.5 ui-monospace, Menlo, Consolas, monospace; }
.pid { font-size: 12px; }
.links a { display: block; font: 12px ui-monospace, Menlo, Consolas, monospace; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  margin-right: 6px; vertical-align: -1px; }
.doc { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; margin: 12px 0; }
.doc .meta { font-size: 13px; margin: 2px 0 8px; }
mark { color: inherit; border-radius: 2px; }
mark.bp:hover, mark.bp.focus { outline: 2px solid #c0392b; }
.c0 { background: #ffe08a; } .c1 { background: #b9e0f5; } .c2 { background: #dccbef; }
.c3 { background: #bfe8cf; } .c4 { background: #f8c4c4; } .c5 { background: #f9d3a9; }
.c6 { background: #c9d6f2; } .c7 { background: #e8e3a1; } .cx { background: #e4e4e4; }
body.hide-bp mark.bp { display: none; }
.toggle { display: inline-block; margin: 0 0 4px; font-size: 14px; }
table.diff td { font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap;
  overflow-wrap: anywhere; width: 47%; } table.diff td.no { width: 3%; color: var(--muted); }
tr.delete td.l, tr.replace td.l { background: #fde2e1; }
tr.insert td.r, tr.replace td.r { background: #ddf4e4; }
table.diff del { background: #f7b4b0; text-decoration: none; }
table.diff ins { background: #a6e3b8; text-decoration: none; }
tr.skip td { color: var(--muted); text-align: center; background: var(--bg); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""

# Hide/show boilerplate, and light up a passage's spans while its row is hovered.
_SCRIPT = """
(function () {
  var box = document.getElementById("hide-bp");
  if (box) box.addEventListener("change", function () {
    document.body.classList.toggle("hide-bp", box.checked);
  });
  document.querySelectorAll("tr.passage").forEach(function (row) {
    var marks = document.querySelectorAll('mark[data-passage="' + row.dataset.passage + '"]');
    row.addEventListener("mouseenter", function () {
      marks.forEach(function (m) { m.classList.add("focus"); });
    });
    row.addEventListener("mouseleave", function () {
      marks.forEach(function (m) { m.classList.remove("focus"); });
    });
  });
  document.body.dataset.ready = "yes";
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _anchor(index: int) -> str:
    return f"doc-{index}"


def _colour(rank: int | None) -> str:
    return f"c{(rank - 1) % _COLOURS}" if rank is not None else "cx"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW else flat[: _PREVIEW - 1] + "…"


def _cards(data: ReportData) -> str:
    h = data.headline
    cards = [
        (f"{h.n_documents:,}", "documents"),
        (f"{h.n_chars:,}", "characters"),
        (f"{h.boilerplate_share:.1%}", f"boilerplate ({h.boilerplate_chars:,} characters)"),
        (f"{h.n_clusters:,}", f"near-duplicate clusters ({h.n_near_dup_documents:,} documents)"),
        (f"{h.n_passages:,}", "boilerplate passages"),
        (f"{h.n_problems:,}", "inputs skipped or altered"),
    ]
    inner = "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in cards)
    return f'<div class="cards" id="headline">{inner}</div>'


def _flat(config: dict[str, object], prefix: str = "") -> Iterator[tuple[str, object]]:
    for key in sorted(config):
        value = config[key]
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _config(data: ReportData) -> str:
    # JSON spelling (true, "line"), as the config is written to the tables' metadata.
    items = "".join(f"<code>{_e(k)}={_e(json.dumps(v))}</code>" for k, v in _flat(data.config))
    return f'<div class="panel config"><h3>Run config</h3>{items or "not recorded"}</div>'


def _histogram(counts: list[int]) -> str:
    width, height, left, bottom, top = 440, 190, 24, 24, 16
    right = width - 20  # room for the last label
    bar = (right - left) / len(counts)
    most = max(max(counts), 1)
    parts = [f'<svg width="{width}" height="{height}" role="img" id="histogram">']
    for i, count in enumerate(counts):
        tall = (height - bottom - top) * count / most
        x, y = left + i * bar, height - bottom - tall
        low, high = round(100 * i / len(counts)), round(100 * (i + 1) / len(counts))
        parts.append(
            f'<rect class="bar" x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" '
            f'height="{tall:.1f}"><title>{count:,} documents with {low} to {high}% '
            "boilerplate</title></rect>"
        )
        if count:
            parts.append(
                f'<text class="n" x="{x + bar / 2:.1f}" y="{y - 3:.1f}" '
                f'text-anchor="middle">{count:,}</text>'
            )
        if i % 2 == 0:  # every other bin edge: labels of ten bins would touch
            parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{low}%</text>')
    parts.append(f'<text x="{right}" y="{height - 8}" text-anchor="middle">100%</text>')
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{right}" y2="{height - bottom}" '
        'stroke="#9aa3b2"/></svg>'
    )
    return (
        '<div class="panel"><h3>Boilerplate fraction per document</h3>'
        + "".join(parts)
        + '<div class="sub">documents per 10% bin of boilerplate characters</div></div>'
    )


def _passage_row(row: PassageRow, anchors: dict[str, int], limit: int) -> str:
    p = row.passage
    links = [f'<a href="#{_anchor(anchors[d])}">{_e(d)}</a>' for d in row.documents if d in anchors]
    shown = "".join(links[:_LINKS])
    if len(links) > _LINKS:
        # A passage of a big corpus sits in most of the sample: fold the rest away.
        shown += (
            f"<details><summary>{len(links) - _LINKS:,} more on this page</summary>"
            f"{''.join(links[_LINKS:])}</details>"
        )
    if row.n_not_shown > 0:
        shown += f'<span class="sub">+ {row.n_not_shown:,} not in the sample</span>'
    preview = _preview(p.text)
    full = ""
    if preview != p.text:
        text = p.text if len(p.text) <= limit else p.text[:limit] + "…"
        full = (
            f"<details><summary>full text ({len(p.text):,} characters)</summary>"
            f"<pre>{_e(text)}</pre></details>"
        )
    return (
        f'<tr class="passage" id="passage-{row.rank}" data-passage="{p.passage_id}" '
        f'data-doc-count="{p.doc_count}">'
        f'<td class="num"><span class="swatch {_colour(row.rank)}"></span>{row.rank}</td>'
        f'<td class="num count">{p.doc_count:,}</td><td class="num">{p.n_occurrences:,}</td>'
        f'<td class="ptext"><div class="preview">{_e(preview)}</div>{full}'
        f'<div class="sub pid">passage id {p.passage_id}</div></td>'
        f'<td class="links">{shown}</td></tr>'
    )


def _passages(data: ReportData, anchors: dict[str, int]) -> str:
    if not data.passages:
        return (
            '<section id="passages"><h2>Top passages</h2>'
            "<p class='note'>No boilerplate passage was found.</p></section>"
        )
    rows = "".join(_passage_row(r, anchors, data.limits.passage_chars) for r in data.passages)
    more = data.headline.n_passages - len(data.passages)
    note = f"The {len(data.passages)} most shared of {data.headline.n_passages:,} passages."
    note += f" {more:,} more are in passages.parquet." if more > 0 else ""
    return (
        '<section id="passages"><h2>Top passages by document count</h2>'
        f'<p class="note">{_e(note)} Documents: near-duplicate clusters counted once.</p>'
        "<table><tr><th>#</th><th>documents</th><th>occurrences</th><th>passage</th>"
        f"<th>in documents</th></tr>{rows}</table></section>"
    )


def _document(doc: DocumentView, index: int, ranks: dict[int, int]) -> str:
    pieces = []
    for seg in doc.segments:
        if seg.passage_id is None:
            pieces.append(_e(seg.text))
            continue
        rank = ranks.get(seg.passage_id)
        name = f"passage #{rank}" if rank else "passage"
        score = f" · score {seg.score:.2f}" if seg.score is not None else ""
        tip = f"{name} (id {seg.passage_id}) · in {seg.doc_count:,} documents{score}"
        pieces.append(
            f'<mark class="bp {_colour(rank)}" data-passage="{seg.passage_id}" '
            f'title="{_e(tip)}">{_e(seg.text)}</mark>'
        )
    meta = f"{doc.n_chars:,} characters · {doc.boilerplate_fraction:.1%} boilerplate"
    if doc.cluster_id is not None:
        meta += f" · near-duplicate cluster {doc.cluster_id}"
    if doc.truncated:
        shown = sum(len(s.text) for s in doc.segments)
        meta += f" · first {shown:,} characters shown"
    return (
        f'<article class="doc" id="{_anchor(index)}" data-id="{_e(doc.id)}">'
        f'<h3>{_e(doc.id)}</h3><div class="meta">{_e(meta)}</div>'
        f'<pre class="text">{"".join(pieces)}</pre></article>'
    )


def _documents(data: ReportData) -> str:
    n, shown, lim = data.headline.n_documents, len(data.documents), data.limits
    if data.sampled:
        note = (
            f"Showing a sample of {shown:,} of {n:,} documents: those the top passages and the "
            "near-duplicate diffs point to first, then a fixed pseudo-random pick by id (the "
            f"same every time), at most {lim.max_docs:,} documents and {lim.max_chars:,} "
            "characters of text, so that this page opens quickly."
        )
    else:
        note = f"All {n:,} documents are shown."
    note += " Boilerplate is highlighted (hover for its passage and count); unique text is plain."
    ranks = data.passage_rank()
    body = "".join(_document(d, i, ranks) for i, d in enumerate(data.documents))
    return (
        f'<section id="documents"><h2>Documents</h2><p class="note" id="sample-note">{_e(note)}'
        '</p><label class="toggle"><input type="checkbox" id="hide-bp"> hide boilerplate '
        f"(show what cleaning keeps)</label>{body}</section>"
    )


def _diff_rows(rows: list[DiffRow]) -> str:
    out = []
    for r in rows:
        if r.kind == "skip":
            what = f"… {r.skipped:,} unchanged lines …" if r.skipped else "… diff cut here …"
            out.append(f'<tr class="skip"><td colspan="4">{what}</td></tr>')
            continue
        left = _e(r.left) if r.left is not None else ""
        right = _e(r.right) if r.right is not None else ""
        if r.kind == "replace" and r.left is not None and r.right is not None:
            pieces_left, pieces_right = word_changes(r.left, r.right)
            left, right = _changed(pieces_left, "del"), _changed(pieces_right, "ins")
        out.append(
            f'<tr class="{r.kind}"><td class="no">{r.left_no or ""}</td><td class="l">{left}</td>'
            f'<td class="no">{r.right_no or ""}</td><td class="r">{right}</td></tr>'
        )
    return "".join(out)


def _changed(pieces: list[tuple[str, bool]], tag: str) -> str:
    return "".join(f"<{tag}>{_e(t)}</{tag}>" if changed else _e(t) for t, changed in pieces)


def _cluster(view: ClusterView, anchors: dict[str, int]) -> str:
    c = view.cluster

    def name(doc: str) -> str:
        return f'<a href="#{_anchor(anchors[doc])}">{_e(doc)}</a>' if doc in anchors else _e(doc)

    members = ", ".join(name(m) for m in c.members)
    head = (
        f'<div class="doc cluster" data-cluster="{c.cluster_id}"><h3>cluster {c.cluster_id}: '
        f"{len(c.members) + 1} documents</h3><div class='meta'>representative "
        f"{name(c.representative)}; also {members}</div>"
    )
    if view.member is None:
        return head + "</div>"
    if not view.diff:
        return head + "<p class='note'>The texts are outside the sample, or identical.</p></div>"
    return (
        f"{head}<table class='diff'><tr><th></th><th>{_e(c.representative)} (representative)"
        f"</th><th></th><th>{_e(view.member)}</th></tr>{_diff_rows(view.diff)}</table></div>"
    )


def _clusters(data: ReportData, anchors: dict[str, int]) -> str:
    if not data.clusters:
        return (
            '<section id="clusters"><h2>Near-duplicate clusters</h2>'
            "<p class='note'>No near-duplicate documents were found.</p></section>"
        )
    note = f"{data.n_clusters:,} cluster" + ("s" if data.n_clusters != 1 else "")
    if data.n_clusters > len(data.clusters):
        note += f", the {len(data.clusters)} largest shown"
    note += "; each with a line diff of one member against the cluster's representative."
    body = "".join(_cluster(v, anchors) for v in data.clusters)
    return (
        f'<section id="clusters"><h2>Near-duplicate clusters</h2><p class="note">{_e(note)}</p>'
        f"{body}</section>"
    )


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    from dedup import __version__

    anchors = {doc.id: i for i, doc in enumerate(data.documents)}
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(data.title)}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{_e(data.title)}</h1><div class="sub">what <code>dedup scan</code> labelled '
        "boilerplate, and the near-duplicate documents it found</div>"
        f'{_cards(data)}<div class="row">{_histogram(data.histogram)}{_config(data)}</div>'
        f"{_passages(data, anchors)}{_documents(data)}{_clusters(data, anchors)}"
        f"<footer>dedup {_e(__version__)} · one self-contained file: it loads nothing from the "
        f"network</footer></main><script>{_SCRIPT}</script></body></html>\n"
    )
