"""Each hard case of boilerplate detection on a small hand-made corpus, end to end."""

from __future__ import annotations

from dedup import ScanConfig, analyze
from dedup.core.pipeline import Analysis


def boilerplate_text(result: Analysis, doc_id: str) -> list[str]:
    d = result.ids.index(doc_id)
    text = result.texts[d]
    spans = result.spans
    return [
        text[s:e].strip()
        for doc, s, e, run in zip(spans.doc, spans.start, spans.end, spans.run, strict=True)
        if doc == d and run >= 0
    ]


ARTICLES = [
    "Rain fell over the northern valleys for a third day and farmers moved herds uphill.",
    "The council voted to rebuild the old bridge before winter closes the mountain pass.",
    "A new library opened downtown with a reading room that stays open until midnight.",
    "Local bakers won a regional prize for a rye loaf made from a century-old recipe.",
    "Students planted two hundred trees along the river path on Saturday morning.",
]


def page(body: str, footer: str) -> str:
    return f"Home\nNews\nSports\n\n{body}\n\n{footer}\n"


def test_a_copyright_line_with_another_year_is_still_boilerplate() -> None:
    docs = [
        page(a, f"Copyright {2019 + i} Valley Gazette. All rights reserved.")
        for i, a in enumerate(ARTICLES)
    ]
    result = analyze([f"p{i}" for i in range(5)], docs, ScanConfig())
    for i in range(5):
        found = boilerplate_text(result, f"p{i}")
        assert any(f"Copyright {2019 + i}" in text for text in found), found
        assert not any(ARTICLES[i] in text for text in found)


def test_number_only_lines_repeat_only_when_equal() -> None:
    # Phone numbers and dates all normalise to "0 0 0"; they must not match each other.
    docs = [
        f"{a}\n\n{555 + i}-{100 + i}-{2000 + i}\n\nThe end of this story."
        for i, a in enumerate(ARTICLES)
    ]
    result = analyze([f"d{i}" for i in range(5)], docs, ScanConfig())
    for i in range(5):
        assert not any("-" in text for text in boilerplate_text(result, f"d{i}"))


def test_a_paragraph_quoted_by_two_sites_stays_article_text() -> None:
    quote = (
        "The minister said the agreement would be signed next week after both parliaments "
        "approve the final text, and that talks on the remaining trade questions would "
        "continue through the spring."
    )
    docs = {
        "alpha__1.txt": f"Alpha Daily\n\n{ARTICLES[0]}\n\n{quote}\n\nAlpha Daily, all rights.",
        "beta__1.txt": f"Beta Post\n\n{ARTICLES[1]}\n\n{quote}\n\nBeta Post newsletter.",
    }
    for group_by in ("none", "prefix"):
        result = analyze(list(docs), list(docs.values()), ScanConfig(group_by=group_by))
        for doc_id in docs:
            assert not any("minister" in t for t in boilerplate_text(result, doc_id)), group_by


def test_a_hard_wrapped_quote_is_prose_too() -> None:
    # The same quote wrapped at 40 columns: each line is short, the paragraph is not.
    quote = (
        "the minister said the agreement would be\n"
        "signed next week after both parliaments\n"
        "approve the final text and that talks on\n"
        "the remaining trade questions would go on"
    )
    docs = [
        f"Site {i} header\n\n{ARTICLES[i]} He added that\n{quote}\nthrough the spring.\n"
        for i in (0, 1)
    ]
    result = analyze(["a", "b"], docs, ScanConfig())
    for doc_id in ("a", "b"):
        assert not any("minister" in t for t in boilerplate_text(result, doc_id))


def test_a_common_line_alone_in_code_is_not_boilerplate() -> None:
    files = []
    for i in range(10):
        files.append(
            f"def handler_{i}(event):\n    value = event.get('field_{i}')\n"
            f"    if value is None:\n        return None\n    total_{i} = value * {i + 2}\n"
            f"    log_result_{i}(total_{i})\n"
        )
    result = analyze([f"m{i}.py" for i in range(10)], files, ScanConfig())
    for i in range(10):
        assert not any("return None" in t for t in boilerplate_text(result, f"m{i}.py"))


def test_a_license_header_in_code_is_boilerplate() -> None:
    header = (
        "# Copyright 2024 The Authors.\n"
        "# Licensed under the Apache License, Version 2.0.\n"
        "# See LICENSE for details.\n"
    )
    bodies = [
        "def parse(text):\n    return text.split()",
        "class Store:\n    items = []",
        "async def fetch(url):\n    await client.get(url)",
        "for row in table:\n    print(row.name, row.size)",
    ]
    files = [f"{header}\n{body}\n" for body in bodies]
    result = analyze([f"m{i}.py" for i in range(4)], files, ScanConfig())
    for i in range(4):
        found = boilerplate_text(result, f"m{i}.py")
        assert found and found[0].startswith("# Copyright 2024") and "See LICENSE" in found[0]


def test_a_near_duplicate_article_does_not_turn_into_boilerplate() -> None:
    body = " ".join(ARTICLES)
    copy = body.replace("third day", "fourth day")
    docs = [
        f"Gazette\n\n{body}\n\nFooter line of the site.",
        f"Gazette\n\n{copy}\n\nFooter line of the site.",
    ]
    result = analyze(["a", "b"], docs, ScanConfig())
    assert result.doc_group.tolist() == [0, 0]
    assert not any("bridge" in t for t in boilerplate_text(result, "a"))


BANNER = "The Valley Gazette: independent news from the northern valleys since 1921"


def test_a_template_line_with_a_typo_is_still_boilerplate() -> None:
    # One letter changed breaks every word 5-gram of the word "independent";
    # on characters the line is still the banner, with a lower score.
    banners = [BANNER] * 4 + [BANNER.replace("independent", "indepandent")]
    docs = [f"Home\nNews\nSports\n{b}\n\n{a}\n" for b, a in zip(banners, ARTICLES, strict=True)]
    result = analyze([f"p{i}" for i in range(5)], docs, ScanConfig())
    found = boilerplate_text(result, "p4")
    assert found == ["Home\nNews\nSports\n" + banners[4]], found
    d = result.ids.index("p4")
    scores = result.span_score[(result.spans.doc == d) & (result.spans.run >= 0)]
    assert 0.5 < scores.min() < 1.0


def test_a_line_with_a_different_page_title_stays_unique_when_too_different() -> None:
    # Same shape, other words: character similarity is low, nothing joins the template.
    titles = [f"Valley Gazette | {a[:40]}" for a in ARTICLES]
    docs = [f"Home\nNews\nSports\n{t}\n\n{a}\n" for t, a in zip(titles, ARTICLES, strict=True)]
    result = analyze([f"p{i}" for i in range(5)], docs, ScanConfig())
    for i in range(5):
        assert boilerplate_text(result, f"p{i}") == ["Home\nNews\nSports"]


GLUED = "Subscribe to the Valley Gazette for the morning news in your inbox."


def test_a_sentence_glued_to_a_paragraph_is_cut_at_its_first_word() -> None:
    docs = [f"Home\nNews\nSports\n\n{a} {GLUED}\n\nValley Gazette, all rights.\n" for a in ARTICLES]
    result = analyze([f"p{i}" for i in range(5)], docs, ScanConfig())
    for i in range(5):
        found = boilerplate_text(result, f"p{i}")
        # The glued sentence joins the footer after it: both are in every page.
        assert f"{GLUED}\n\nValley Gazette, all rights." in found, found
        assert not any(ARTICLES[i] in t for t in found)
        d = result.ids.index(f"p{i}")
        text = result.texts[d]
        unique = [
            text[s:e].strip()
            for doc, s, e, run in zip(
                result.spans.doc,
                result.spans.start,
                result.spans.end,
                result.spans.run,
                strict=True,
            )
            if doc == d and run < 0
        ]
        assert unique == [ARTICLES[i]]


def test_a_glued_sentence_in_two_articles_of_two_sites_needs_no_site() -> None:
    # Ungrouped, two documents are enough for a short glued sentence; a long
    # shared tail (over --prose-words) is a quote and needs --prose-min-docs.
    tail = " ".join(ARTICLES[2].split() * 2)
    docs = [f"Home\nNews\n\n{a} {tail}\n\nThe end.\n" for a in ARTICLES[:2]]
    result = analyze(["a", "b"], docs, ScanConfig())
    for doc_id in ("a", "b"):
        assert not any("library" in t for t in boilerplate_text(result, doc_id))
