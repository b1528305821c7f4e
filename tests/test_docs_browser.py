"""The HTML reference in a real browser: headless Chromium renders it at 1280 px.

A copy of the committed page gets a test-only script that writes what the
browser laid out (page and table widths, rows, the picture's box) into the
DOM; --dump-dom gives it back.  A screenshot of the same page is decoded
here (PNG, standard library only) to see the picture's and the matrix's
colours on screen.  Set TDX_CODEGEN_SCREENSHOT=FILE to keep the screenshot.

Without Chromium the tests skip, except under CI=true, where .ci/run
installs Debian's chromium package and a missing browser is a failure.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from functools import lru_cache
from pathlib import Path

import pytest

from codegen.emitters import docs
from codegen.spec.compiler import compile_or_raise

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "generated" / "docs" / "global-metadata.html"
WIDTH, HEIGHT = 1280, 2000

MEASURE = """
<script>
(function () {
  const box = e => { const b = e.getBoundingClientRect();
                     return {left: Math.floor(b.left), right: Math.ceil(b.right),
                             width: Math.ceil(b.width), height: Math.ceil(b.height)}; };
  const svg = document.querySelector("figure svg");
  const out = {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    tables: [...document.querySelectorAll("table")].map(t => Object.assign(box(t), {
      id: t.id, cls: t.className, section: (t.closest("section") || {}).id || "",
      rows: t.rows.length, scrollWidth: t.scrollWidth})),
    svg: Object.assign(box(svg), {subFields: svg.querySelectorAll("g.fid-sub-field").length}),
    wider: [...document.body.querySelectorAll("*")]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth)
      .map(e => e.tagName + "#" + e.id + "." + (e.getAttribute("class") || "")),
  };
  const pre = document.createElement("pre");
  pre.id = "measurements";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing: CI installs Debian's chromium package (.ci/run)")
    pytest.skip(
        "chromium is not installed (Debian: apt-get install chromium); "
        "the HTML page is not rendered"
    )


def run_chromium(tmp_path: Path, page: Path, *mode: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(measurements, screenshot path) of the committed page."""
    tmp = tmp_path_factory.mktemp("browser")
    text = PAGE.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    measured = tmp / "measured.html"
    measured.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    p = run_chromium(tmp, measured, "--dump-dom")
    m = re.search(r'<pre id="measurements">(.*?)</pre>', p.stdout, re.S)
    assert m, f"no measurements in the dumped DOM (exit {p.returncode}):\n{p.stderr[-2000:]}"
    shot = tmp / "page.png"
    p = run_chromium(tmp, PAGE, f"--screenshot={shot}")
    assert shot.is_file(), f"no screenshot (exit {p.returncode}):\n{p.stderr[-2000:]}"
    if os.environ.get("TDX_CODEGEN_SCREENSHOT"):
        shutil.copy(shot, os.environ["TDX_CODEGEN_SCREENSHOT"])
    return json.loads(html.unescape(m.group(1))), shot


def test_every_class_table_the_matrix_and_the_picture_are_rendered(rendered):
    measured, _ = rendered
    catalogue = compile_or_raise(ROOT / "schema")
    ref = docs.reference(catalogue)
    tables = measured["tables"]
    fields = {t["section"]: t["rows"] for t in tables if t["cls"] == "fields"}
    assert fields == {c["anchor"]: len(c["rows"]) + 1 for c in ref["classes"]}
    bits = [t["rows"] for t in tables if t["cls"] == "bits"]
    assert bits == [len(b["rows"]) + 1 for c in ref["classes"] for b in c["flags"]]
    [matrix] = [t for t in tables if t["id"] == "availability"]
    assert matrix["rows"] == ref["field_count"] + 1
    [layout] = [t for t in tables if t["id"] == "field-id-table"]
    assert layout["rows"] == 14  # header + the codec's 13 sub-fields
    assert measured["svg"]["subFields"] == 13
    assert measured["svg"]["width"] >= 1000 and measured["svg"]["height"] >= 150
    assert all(t["width"] > 0 and t["rows"] > 1 for t in tables)


def test_nothing_overflows_at_1280_px(rendered):
    measured, _ = rendered
    assert measured["innerWidth"] == WIDTH
    assert measured["scrollWidth"] <= WIDTH
    assert measured["wider"] == []
    for t in measured["tables"]:
        assert t["right"] <= WIDTH and t["scrollWidth"] <= t["width"] + 1, t
    assert measured["svg"]["right"] <= WIDTH


@lru_cache(maxsize=2)  # decoding in Python takes seconds: once per screenshot
def png_pixels(path: Path) -> tuple[int, int, list[bytes], int]:
    """Width, height, unfiltered rows and bytes per pixel of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytes(width * bpp)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = rows[-1]
    return width, height, rows, bpp


def colour_rows(path: Path, rgb: tuple[int, int, int]) -> list[int]:
    """The rows of the screenshot holding at least 20 pixels of exactly this colour."""
    width, _height, rows, bpp = png_pixels(path)
    want = bytes(rgb)
    return [
        y
        for y, row in enumerate(rows)
        if sum(row[i : i + 3] == want for i in range(0, width * bpp, bpp)) >= 20
    ]


def test_the_screenshot_shows_the_picture_and_the_matrix(rendered):
    _, shot = rendered
    width, height, _, _ = png_pixels(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    picture = colour_rows(shot, (0xFD, 0xE6, 0x8A))  # the picture's sub-field fill
    present = colour_rows(shot, (0xDC, 0xFC, 0xE7))  # the matrix's "yes" cells
    assert picture and present
    assert max(picture) < min(present)  # the picture above the matrix
