"""The report of seeds/ in a real browser: headless Chromium, offline, a screenshot.

`make test` installs Debian's chromium where it is missing and apt-get is
usable; elsewhere this test skips and says why. Set DEDUP_CHROMIUM to use
another binary. With DEDUP_WRITE_SCREENSHOT=docs/report.png the screenshot
is also written there (the README's picture is made so).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from dedup.report_runner import write_report

APPEAL = "A Message from The Moscow Times:"
WIDTH, HEIGHT = 1280, 1600
# The highlight of the 4th passage (the ad-free banner that opens the first document).
BANNER_COLOUR = (0xBF, 0xE8, 0xCF)


def _chromium() -> str:
    for name in (os.environ.get("DEDUP_CHROMIUM"), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.skip(
        "chromium not found: install Debian's chromium package (make test does so where "
        "apt-get is usable), or set DEDUP_CHROMIUM to a Chromium binary"
    )


def _browse(page: Path, profile: Path, *args: str) -> bytes:
    """Run headless Chromium on a local file with no network features; its stdout."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout


class _Page(HTMLParser):
    """What the test asserts on: passage rows, document articles and their marks, body data."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.passages: list[dict[str, str | None]] = []
        self.passage_text: list[str] = []
        self.documents: list[str | None] = []
        self.marks_per_document: list[int] = []
        self._in_preview = False
        self._in_passage = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "body":
            self.body = found
        elif tag == "tr" and "passage" in classes:
            self.passages.append(found)
            self.passage_text.append("")
            self._in_passage = True
        elif tag == "div" and "preview" in classes and self._in_passage:
            self._in_preview = True
        elif tag == "article" and "doc" in classes:
            self.documents.append(found.get("data-id"))
            self.marks_per_document.append(0)
        elif tag == "mark" and "bp" in classes and self.documents:
            self.marks_per_document[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_preview = False
        elif tag == "tr":
            self._in_passage = False

    def handle_data(self, data: str) -> None:
        if self._in_preview:
            self.passage_text[-1] += data


def _unfilter(kind: int, line: np.ndarray, previous: np.ndarray, channels: int) -> np.ndarray:
    """One PNG scanline back from its filter (PNG spec, section 9)."""
    if kind == 0:
        return line.copy()
    if kind == 1:  # sub: a running sum per channel
        sums = np.cumsum(line.reshape(-1, channels).astype(np.int64), axis=0) % 256
        return sums.astype(np.uint8).reshape(-1)
    if kind == 2:  # up
        return line + previous
    # average and Paeth depend on the pixel just decoded: one byte at a time.
    out, up = bytearray(line.tobytes()), previous.tobytes()
    for i in range(len(out)):
        left = out[i - channels] if i >= channels else 0
        corner = up[i - channels] if i >= channels else 0
        if kind == 3:
            out[i] = (out[i] + ((left + up[i]) >> 1)) & 0xFF
            continue
        guess = left + up[i] - corner
        near_left, near_up = abs(guess - left), abs(guess - up[i])
        near_corner = abs(guess - corner)
        if near_left <= near_up and near_left <= near_corner:
            best = left
        else:
            best = up[i] if near_up <= near_corner else corner
        out[i] = (out[i] + best) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _pixels(png: bytes) -> np.ndarray:
    """The RGB pixels, shape (height, width, 3), of an 8-bit RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, data, width, height, channels = 8, b"", 0, 0, 0
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and not interlace, (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(height, stride + 1)
    rows = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        previous = rows[y] = _unfilter(int(raw[y, 0]), raw[y, 1:], previous, channels)
    return rows.reshape(height, width, channels)[..., :3]


def test_seeds_report_in_headless_chromium(
    tmp_path: Path, seeds_out: Path, seeds_dir: Path
) -> None:
    page = tmp_path / "report.html"
    write_report(seeds_out, [seeds_dir], page)

    dom = _browse(page, tmp_path / "profile-dom", "--dump-dom").decode("utf-8")
    seen = _Page()
    seen.feed(dom)
    assert seen.body.get("data-ready") == "yes", "the page's script ran"
    top = seen.passages[0]
    assert top["data-doc-count"] == "5"
    assert seen.passage_text[0].startswith(APPEAL), seen.passage_text[0]
    assert seen.documents[0] == sorted(p.name for p in seeds_dir.iterdir())[0]
    assert seen.marks_per_document[0] >= 2, "the first document shows highlighted spans"

    shot = tmp_path / "report.png"
    _browse(
        page, tmp_path / "profile-shot", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}"
    )
    pixels = _pixels(shot.read_bytes())
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    # The banner's highlight fills lines of the first document: far more than its swatch.
    banner = int(np.all(pixels == BANNER_COLOUR, axis=-1).sum())
    assert banner > 2_000, f"{banner} pixels of highlight: no highlighted span on the screenshot"
    target = os.environ.get("DEDUP_WRITE_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
