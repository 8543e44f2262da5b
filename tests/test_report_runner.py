"""The report's runner on real scans: what it reads, samples, checks and writes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup import ConfigError, InputError, OutputError, ScanConfig, scan
from dedup.report import ReportLimits
from dedup.report_runner import build_report, list_passages, show_document, write_report

APPEAL = "A Message from The Moscow Times:"


def test_seeds_report_has_every_document_and_the_appeal_on_top(
    seeds_out: Path, seeds_dir: Path
) -> None:
    data = build_report(seeds_out, [seeds_dir])
    assert not data.sampled
    assert [d.id for d in data.documents] == sorted(p.name for p in seeds_dir.iterdir())
    top = data.passages[0]
    assert top.rank == 1
    assert top.passage.text.startswith(APPEAL)
    assert top.passage.doc_count == 5
    assert top.documents == [d.id for d in data.documents]
    assert top.n_not_shown == 0
    assert data.headline.n_documents == 5
    assert data.headline.n_passages == 4
    assert data.config == ScanConfig().to_dict()
    assert sum(data.histogram) == 5
    first = data.documents[0]
    assert any(s.passage_id == top.passage.passage_id for s in first.segments)
    for view in data.documents:
        text = (seeds_dir / view.id).read_text(encoding="utf-8")
        assert "".join(s.text for s in view.segments) == text


# Every element the report itself writes; anything else came from a document.
_OWN_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "div",
    "span", "b", "code", "svg", "rect", "text", "line", "section", "p", "table",
    "tr", "th", "td", "details", "summary", "pre", "a", "label", "input", "article",
    "mark", "footer", "script", "del", "ins",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.found


def test_the_page_is_self_contained_and_escapes_the_text(tmp_path: Path, seeds_copy: Path) -> None:
    hostile = "<script>alert('x')</script> & <img src=http://example.com/a.png>\n"
    (seeds_copy / "z<b>.txt").write_text(hostile, encoding="utf-8")
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    page = tmp_path / "report.html"
    write_report(out, [seeds_copy], page)
    html = page.read_text(encoding="utf-8")
    assert html.count("<script") == 1, "only the report's own script"
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img" in html
    assert 'data-id="z&lt;b&gt;.txt"' in html
    tags = _tags(html)
    assert {name for name, _ in tags} <= _OWN_TAGS, "document text never becomes markup"
    for name, attrs in tags:
        assert "src" not in attrs, name
        assert attrs.get("href", "#").startswith("#"), (name, attrs)
    assert "url(" not in html
    assert "@import" not in html


def test_a_large_corpus_is_sampled_and_says_so(
    tmp_path: Path, seeds_out: Path, seeds_dir: Path
) -> None:
    page = tmp_path / "report.html"
    data = write_report(seeds_out, [seeds_dir], page, ReportLimits(max_docs=2))
    assert data.sampled
    assert len(data.documents) == 2
    top = data.passages[0]
    assert top.documents == [d.id for d in data.documents]
    assert top.n_not_shown == 3
    html = page.read_text(encoding="utf-8")
    assert "Showing a sample of 2 of 5 documents" in html
    assert "+ 3 not in the sample" in html
    assert html.count('<article class="doc"') == 2
    again = build_report(seeds_out, [seeds_dir], ReportLimits(max_docs=2))
    assert [d.id for d in again.documents] == [d.id for d in data.documents]


def test_a_long_document_is_cut_and_says_so(seeds_out: Path, seeds_dir: Path) -> None:
    data = build_report(seeds_out, [seeds_dir], ReportLimits(doc_chars=100, max_chars=1_000))
    assert all(d.truncated for d in data.documents)
    assert all(sum(len(s.text) for s in d.segments) == 100 for d in data.documents)


def _near_copy(folder: Path) -> str:
    """Add a near-duplicate of one seed article, with one line changed and one added."""
    source = sorted(folder.iterdir())[2]
    lines = source.read_text(encoding="utf-8").split("\n")
    middle = len(lines) // 2
    lines[middle] += " One sentence more."
    lines.insert(middle + 3, "A line only the copy has.")
    (folder / "copy.txt").write_text("\n".join(lines), encoding="utf-8")
    return source.name


def test_near_duplicates_get_a_diff_against_their_representative(
    tmp_path: Path, seeds_copy: Path
) -> None:
    original = _near_copy(seeds_copy)
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    page = tmp_path / "report.html"
    data = write_report(out, [seeds_copy], page)
    assert data.n_clusters == 1
    view = data.clusters[0]
    assert view.cluster.representative == min("copy.txt", original)
    assert view.member is not None
    kinds = {row.kind for row in view.diff}
    assert {"replace", "insert"} <= kinds
    html = page.read_text(encoding="utf-8")
    assert "<ins> One sentence more.</ins>" in html
    assert "A line only the copy has." in html


def test_without_docs_the_report_reads_the_recorded_inputs_or_says_they_moved(
    tmp_path: Path, seeds_copy: Path
) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    assert len(build_report(out, []).documents) == 5
    moved = seeds_copy.rename(tmp_path / "moved")
    with pytest.raises(InputError, match="--docs"):
        build_report(out, [])
    assert len(build_report(out, [moved]).documents) == 5


def test_a_changed_document_is_named(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    victim = sorted(seeds_copy.iterdir())[1]
    victim.write_text(victim.read_text(encoding="utf-8") + "more", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{victim}: has ")) as info:
        build_report(out, [seeds_copy])
    assert info.value.path == str(victim)
    assert "changed since the scan" in str(info.value)


def test_a_same_length_edit_inside_a_passage_is_caught(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    first = pq.read_table(out / "passages.parquet").to_pylist()[0]
    path = seeds_copy / first["id"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Dear readers", "DEAR READERS"), encoding="utf-8")
    with pytest.raises(InputError, match="no longer hold the passage"):
        build_report(out, [seeds_copy])


def test_a_moved_document_is_named(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    gone = sorted(seeds_copy.iterdir())[0]
    gone.rename(tmp_path / gone.name)
    with pytest.raises(InputError, match=re.escape(f"{gone.name}: no such document under")):
        build_report(out, [seeds_copy])


def test_a_folder_that_is_not_a_scan_is_named(tmp_path: Path, seeds_dir: Path) -> None:
    with pytest.raises(InputError, match=r"documents\.parquet: missing"):
        build_report(tmp_path, [seeds_dir])


def test_a_report_that_cannot_be_written_is_an_output_error(
    tmp_path: Path, seeds_out: Path, seeds_dir: Path
) -> None:
    with pytest.raises(OutputError, match="cannot write the report"):
        write_report(seeds_out, [seeds_dir], tmp_path / "no" / "such" / "report.html")
    assert not (tmp_path / "no").exists()


def test_show_gives_the_whole_document(seeds_out: Path, seeds_dir: Path) -> None:
    doc = sorted(p.name for p in seeds_dir.iterdir())[3]
    view = show_document(seeds_out, doc, [seeds_dir])
    assert "".join(s.text for s in view.segments) == (seeds_dir / doc).read_text(encoding="utf-8")
    assert not view.truncated
    assert any(s.passage_id is not None for s in view.segments)


def test_show_suggests_close_ids(seeds_out: Path, seeds_dir: Path) -> None:
    doc = sorted(p.name for p in seeds_dir.iterdir())[0]
    with pytest.raises(InputError, match=re.escape(f"did you mean {doc}?")):
        show_document(seeds_out, doc[:-1], [seeds_dir])


def test_list_passages_most_shared_first(seeds_out: Path) -> None:
    passages, total = list_passages(seeds_out, 2)
    assert total == 4
    assert [p.doc_count for p in passages] == [5, 3]
    assert passages[0].text.startswith(APPEAL)
    with pytest.raises(ConfigError, match="--limit"):
        list_passages(seeds_out, 0)
