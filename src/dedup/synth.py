"""A seeded generator of labelled corpora: sites with templates, and their truth.

Every document is assembled from pieces whose labels are known, so the ground
truth comes out of the generator. It reproduces the cases that decide whether
a boilerplate detector is useful:

- site templates: a menu of short lines, a banner, an appeal paragraph, a
  legal footer, each repeated on every page of a site;
- variable parts: a copyright line with another year, a date in the footer,
  a menu with one item added, a typo in a template line;
- hard-wrapped article paragraphs, and a boilerplate sentence glued to the end
  of a unique paragraph;
- common lines alone inside unique text (`return None`, `CHAPTER II`), which
  are not boilerplate;
- the same quoted paragraph in articles of two sites (not boilerplate);
- near-duplicate copies of articles with word edits and a dropped paragraph
  (reported as pairs; their bodies are not boilerplate).

The same seed and sizes give the same corpus, byte for byte.
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass, field

from dedup.errors import ConfigError

Span = tuple[int, int]

_SYLLABLES = (
    *("ka", "ri", "to", "mu", "ne", "sa", "lo", "vi", "de", "pa", "gor", "tin", "bel"),
    *("mar", "fu", "sel", "an", "or", "wen", "dal", "pri", "sto", "cla", "ver", "mon"),
    *("tra", "nel", "quo", "bis", "har", "zen", "lu"),
)
_COMMON_LINES = ("return None", "CHAPTER II", "}", "else:", "* * *")


@dataclass(frozen=True)
class SynthConfig:
    """Sizes and rates of a generated corpus."""

    seed: int = 0
    sites: int = 12
    pages_per_site: int = 8
    paragraphs: tuple[int, int] = (4, 9)
    near_duplicates: int = 10
    edit_rate: float = 0.005
    drop_paragraph_rate: float = 0.5
    quote_pairs: int = 6
    common_line_rate: float = 0.6
    glued_rate: float = 0.3
    menu_item_added_rate: float = 0.25
    typo_rate: float = 0.15

    def __post_init__(self) -> None:
        if self.sites < 2:
            raise ConfigError(f"--sites must be at least 2, got {self.sites}")
        if self.pages_per_site < 1:
            raise ConfigError(f"--pages must be at least 1, got {self.pages_per_site}")
        if self.near_duplicates < 0:
            raise ConfigError(f"--near-duplicates must be at least 0, got {self.near_duplicates}")
        lo, hi = self.paragraphs
        if not 1 <= lo <= hi:
            raise ConfigError(f"paragraphs must be 1 <= low <= high, got {self.paragraphs}")


@dataclass
class Doc:
    """A document under construction: its text and its boilerplate spans."""

    id: str
    parts: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, text: str, boilerplate: bool) -> None:
        self.parts.append((text, boilerplate))

    def render(self) -> tuple[str, list[Span]]:
        text: list[str] = []
        spans: list[Span] = []
        pos = 0
        for piece, boilerplate in self.parts:
            if boilerplate and piece:
                if spans and spans[-1][1] == pos:
                    spans[-1] = (spans[-1][0], pos + len(piece))
                else:
                    spans.append((pos, pos + len(piece)))
            text.append(piece)
            pos += len(piece)
        return "".join(text), spans


@dataclass(frozen=True)
class Corpus:
    """Documents with their truth.

    `near_duplicates` holds every pair (a < b) of an original and its copies,
    and of two copies of one original.
    """

    ids: list[str]
    texts: list[str]
    boilerplate: list[list[Span]]
    near_duplicates: list[tuple[str, str]]


class _Words:
    """Pseudo-words made of syllables: no dictionary, no shared English text."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def word(self) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(1, 3)))

    def words(self, n: int) -> str:
        return " ".join(self.word() for _ in range(n))

    def sentence(self, lo: int = 6, hi: int = 18) -> str:
        text = self.words(self.rng.randint(lo, hi))
        return text[0].upper() + text[1:] + "."

    def paragraph(self, lo: int = 3, hi: int = 7) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(lo, hi)))

    def title(self) -> str:
        return self.words(self.rng.randint(3, 7)).title()


@dataclass(frozen=True)
class _Site:
    name: str
    menu: list[str]
    spare_item: str
    banner: str
    appeal: str
    glued: str
    legal: list[str]


def _site(words: _Words) -> _Site:
    name = f"The {words.word().title()} {words.word().title()}"
    return _Site(
        name=name,
        menu=[
            words.words(words.rng.randint(1, 3)).title() for _ in range(words.rng.randint(5, 14))
        ],
        spare_item=words.words(2).title(),
        banner=f"{name}: {words.sentence(8, 14)}",
        appeal=words.paragraph(3, 5),
        glued=words.sentence(8, 12),
        legal=[words.sentence(5, 12) for _ in range(words.rng.randint(2, 4))],
    )


def _typo(text: str, rng: random.Random) -> str:
    """One letter changed, in a word of at least four letters."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + ("x" if text[i] != "x" else "y") + text[i + 1 :]


def _article(words: _Words, cfg: SynthConfig) -> list[str]:
    rng = words.rng
    return [words.paragraph() for _ in range(rng.randint(*cfg.paragraphs))]


def _page(
    site: _Site, doc: Doc, title: str, body: list[str], words: _Words, cfg: SynthConfig
) -> None:
    rng = words.rng
    menu = list(site.menu)
    if rng.random() < cfg.menu_item_added_rate:
        menu.insert(rng.randint(1, len(menu) - 1), site.spare_item)
    for item in menu:
        doc.add(item, True)
        doc.add("\n", True)
    banner = _typo(site.banner, rng) if rng.random() < cfg.typo_rate else site.banner
    doc.add(banner, True)
    doc.add("\n\n", False)
    doc.add(title, False)
    doc.add("\n\n", False)
    for k, paragraph in enumerate(body):
        # Articles are hard-wrapped: a paragraph is several lines.
        doc.add(textwrap.fill(paragraph, width=rng.choice((64, 72, 80))), False)
        if k == len(body) - 1 and rng.random() < cfg.glued_rate:
            doc.add(" ", False)
            doc.add(site.glued, True)
        doc.add("\n\n", False)
        if k == 0 and rng.random() < cfg.common_line_rate:
            doc.add(rng.choice(_COMMON_LINES), False)
            doc.add("\n\n", False)
    doc.add(site.appeal, True)
    doc.add("\n\n", True)
    year = rng.choice((2019, 2020, 2021, 2022, 2023, 2024))
    day = f"{rng.randint(1, 28)} {rng.choice(('March', 'April', 'May'))} {year}"
    for line in [f"Updated {day}.", *site.legal, f"Copyright {year} {site.name}."]:
        doc.add(line, True)
        doc.add("\n", True)


def _edit(paragraphs: list[str], rng: random.Random, cfg: SynthConfig) -> list[str]:
    """Near-copy: words changed at `edit_rate`; sometimes one of six or more paragraphs dropped.

    With the defaults (one word in 200, half of the long articles losing
    their shortest paragraph after the first) copies have a Jaccard
    similarity of about 0.85 on 5-word shingles, near-duplicates at the
    default threshold of 0.8: each changed word breaks up to five shingles.
    """
    kept = list(paragraphs)
    rate = cfg.edit_rate
    if len(kept) >= 6 and rng.random() < cfg.drop_paragraph_rate:
        del kept[min(range(1, len(kept)), key=lambda i: len(kept[i]))]
    out = []
    for paragraph in kept:
        tokens = paragraph.split(" ")
        for i in range(len(tokens)):
            if rng.random() < rate:
                tokens[i] = tokens[i][::-1] or tokens[i]
        out.append(" ".join(tokens))
    return out


def generate(cfg: SynthConfig) -> Corpus:
    """A labelled corpus; documents are named `<site>__<page>.txt`."""
    rng = random.Random(cfg.seed)
    words = _Words(rng)
    sites = [_site(words) for _ in range(cfg.sites)]
    articles: dict[str, tuple[int, str, list[str]]] = {}
    docs: list[Doc] = []
    for s in range(len(sites)):
        for p in range(cfg.pages_per_site):
            doc_id = f"site{s:03d}__page{p:03d}.txt"
            articles[doc_id] = (s, words.title(), _article(words, cfg))
    ids = sorted(articles)
    # Quotes: one paragraph of an article appears in an article of another site.
    for _ in range(cfg.quote_pairs):
        a, b = rng.sample(ids, 2)
        if articles[a][0] != articles[b][0]:
            quote = rng.choice(articles[a][2])
            body = articles[b][2]
            body.insert(rng.randint(0, len(body)), quote)
    pairs: list[tuple[str, str]] = []
    for n in range(cfg.near_duplicates):
        original = rng.choice(ids)
        s, title, body = articles[original]
        target = rng.randrange(cfg.sites) if rng.random() < 0.5 else s
        copy_id = f"site{target:03d}__copy{n:03d}.txt"
        articles[copy_id] = (target, title, _edit(body, rng, cfg))
        pairs.append((original, copy_id))
    for doc_id in sorted(articles):
        s, title, body = articles[doc_id]
        doc = Doc(doc_id)
        _page(sites[s], doc, title, body, words, cfg)
        docs.append(doc)
    rendered = [d.render() for d in docs]
    # Copies of one original are near-duplicates of each other too.
    family: dict[str, list[str]] = {}
    for original, copy_id in pairs:
        family.setdefault(original, [original]).append(copy_id)
    every_pair = {(a, b) for members in family.values() for a in members for b in members if a < b}
    return Corpus(
        ids=[d.id for d in docs],
        texts=[t for t, _ in rendered],
        boilerplate=[spans for _, spans in rendered],
        near_duplicates=sorted(every_pair),
    )
