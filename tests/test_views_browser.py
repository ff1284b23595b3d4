"""Both views in headless Chromium, at a 360-pixel phone width and a desktop width, compared with reference screenshots.

The page is placed in an `<iframe>` of the given width (headless Chromium makes no window narrower
than 500 pixels; see test_html_browser.py), and the screenshot of the harness is compared with
tests/golden/screens/NAME.png pixel by pixel. Fonts are rendered slightly differently from one
machine to another (hinting, antialiasing), so the test allows a small share of differing pixels;
a layout change (a box moved, a section reordered, a width changed) changes far more. The pages are
the English ones: a machine without a CJK font draws Chinese as empty boxes, so Chinese pages would
compare one machine's fonts rather than the layout.
ELIGIBILITY_UPDATE_GOLDEN=1 rewrites the references; look at them before committing.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
from pathlib import Path

import pytest

import eligibility
from conftest import UPDATE, chromium

Image = pytest.importorskip("PIL.Image", reason="Pillow is in the test extra")
ImageChops = pytest.importorskip("PIL.ImageChops")

ROOT = Path(__file__).parent.parent
SCREENS = Path(__file__).parent / "golden" / "screens"
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
HEIGHT = 1400
#: A pixel differs when a channel differs by more than this (antialiasing moves edges by a few levels).
LEVEL = 48
#: The share of differing pixels tolerated: font rendering across machines, not a layout change.
TOLERANCE = 0.03

HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{{margin:0;background:#fff}}
iframe{{width:{width}px;height:{height}px;border:0;display:block}}</style></head>
<body><iframe srcdoc="{page}"></iframe></body></html>"""


def screenshot(page: str, width: int, tmp_path: Path, name: str) -> Path:
    """Take a screenshot of a page laid out `width` pixels wide in headless Chromium."""
    harness = tmp_path / f"{name}.harness.html"
    harness.write_text(HARNESS.format(width=width, height=HEIGHT, page=html.escape(page, quote=True)),
                       encoding="utf-8")
    shot = tmp_path / f"{name}.png"
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--window-size={max(width, 500)},{HEIGHT}", f"--screenshot={shot}", harness.resolve().as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "no screenshot was taken"
    return shot


def differing(a: Path, b: Path, width: int) -> float:
    """The share of pixels (of the page's width) that differ by more than LEVEL in some channel."""
    with Image.open(a) as ia, Image.open(b) as ib:
        if ia.size != ib.size:
            return 1.0
        box = (0, 0, min(width, ia.size[0]), ia.size[1])
        diff = ImageChops.difference(ia.convert("RGB").crop(box), ib.convert("RGB").crop(box))
        mask = diff.convert("L").point(lambda v: 255 if v > LEVEL else 0)
        hist = mask.histogram()
        return hist[255] / (box[2] * box[3])


def pages() -> dict[str, str]:
    """The pages compared: the applicant's and the auditor's view of the example family, in English."""
    decision = eligibility.load().decide(FAMILY, on=ON)
    return {"applicant": decision.explain(lang="en", fmt="html", view="applicant"),
            "auditor": decision.explain(lang="en", fmt="html", view="auditor")}


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """The two pages, rendered once."""
    return pages()


@pytest.mark.parametrize("view", ["applicant", "auditor"])
@pytest.mark.parametrize("width", [360, 1280])
def test_view_looks_as_its_reference(rendered: dict[str, str], view: str, width: int, tmp_path: Path) -> None:
    """The page at this width matches its reference screenshot within the font-rendering tolerance."""
    name = f"{view}-{width}"
    shot = screenshot(rendered[view], width, tmp_path, name)
    reference = SCREENS / f"{name}.png"
    if UPDATE or not reference.exists():
        if not UPDATE and os.environ.get("CI"):
            pytest.fail(f"reference {reference.name} is missing; run with ELIGIBILITY_UPDATE_GOLDEN=1 and commit it")
        SCREENS.mkdir(parents=True, exist_ok=True)
        reference.write_bytes(shot.read_bytes())
        return
    share = differing(shot, reference, width)
    assert share <= TOLERANCE, (f"{share:.1%} of the pixels differ from {reference.name} (tolerance "
                                f"{TOLERANCE:.0%}); the screenshot is {shot}; ELIGIBILITY_UPDATE_GOLDEN=1 rewrites it")


def test_a_layout_change_is_caught(rendered: dict[str, str], tmp_path: Path) -> None:
    """A narrower column and a larger total on the applicant's page differ from the reference beyond the tolerance."""
    reference = SCREENS / "applicant-1280.png"
    if not reference.exists():
        pytest.skip("the reference is written by the test above first")
    changed = rendered["applicant"].replace("main{max-width:40rem", "main{max-width:30rem").replace(
        ".total{font-size:1.3rem", ".total{font-size:1.6rem")
    assert changed != rendered["applicant"]
    shot = screenshot(changed, 1280, tmp_path, "changed")
    assert differing(shot, reference, 1280) > TOLERANCE
