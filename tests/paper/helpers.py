"""Reading paper letters back as a printer or a scanner would: the text on a cover page with
where it stands, and the QR code drawn there as a module matrix (rebuilt from the page's
rectangles, rendered to an image and decoded with zxing-cpp)."""

from __future__ import annotations

from dataclasses import dataclass

import segno
import zxingcpp
from PIL import Image
from pypdf import PageObject
from pypdf.generic import ContentStream
from reportlab.lib.units import mm

from mailbox.paper.letters import LAYOUT, PAGE_HEIGHT


@dataclass(frozen=True)
class Placed:
    text: str
    left_mm: float
    top_mm: float  # of the baseline, from the page's top edge


def placed_text(page: PageObject) -> list[Placed]:
    """Every run of text on ``page`` with its position in mm from the top-left corner."""
    found: list[Placed] = []

    def visit(text, cm, tm, font, size) -> None:
        if text.strip():
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            found.append(Placed(text.strip(), x / mm, (PAGE_HEIGHT - y) / mm))

    page.extract_text(visitor_text=visit)
    return found


def window_text(page: PageObject | list[Placed]) -> list[str]:
    """The lines of text inside the envelope window's address zone (DIN 5008 form B),
    top to bottom (of a page, or of its :func:`placed_text`)."""
    placed = page if isinstance(page, list) else placed_text(page)
    lines = [
        p
        for p in placed
        if LAYOUT.window_left <= p.left_mm <= LAYOUT.window_left + LAYOUT.window_width
        and LAYOUT.address_first_baseline - 4
        <= p.top_mm
        <= LAYOUT.window_top + LAYOUT.window_height
    ]
    return [p.text for p in sorted(lines, key=lambda p: p.top_mm)]


def qr_matrix(page: PageObject) -> list[list[bool]]:
    """The QR code's modules as drawn on ``page``: its filled rectangles in the QR area,
    one module each ``LAYOUT.qr_module`` mm."""
    module = LAYOUT.qr_module * mm
    left = LAYOUT.qr_left * mm
    top = PAGE_HEIGHT - LAYOUT.qr_top * mm
    rects = []
    content = ContentStream(page.get_contents(), page.pdf)
    for operands, operator in content.operations:
        if operator == b"re":
            x, y, w, h = (float(v) for v in operands)
            if x >= left - 0.01 and y <= top + 0.01 and abs(h - module) < 0.01:
                rects.append((x, y, w))
    size = round(max(x + w - left for x, _, w in rects) / module)
    matrix = [[False] * size for _ in range(size)]
    for x, y, w in rects:
        row = round((top - y) / module) - 1
        first = round((x - left) / module)
        for c in range(first, first + round(w / module)):
            matrix[row][c] = True
    return matrix


def expected_matrix(url: str) -> list[list[bool]]:
    """The module matrix of ``url``'s QR code, as the letter must draw it."""
    qr = segno.make(url, error="m", micro=False)
    return [[bool(v) for v in row] for row in qr.matrix_iter(border=0)]


def decode(matrix: list[list[bool]], scale: int = 3) -> str:
    """What a scanner reads from ``matrix`` drawn black on white with a quiet zone of four
    modules, ``scale`` pixels a module."""
    border = 4
    width = (len(matrix) + 2 * border) * scale
    blank = b"\xff" * width
    rows = [blank] * (border * scale)
    for row in matrix:
        line = b"\xff" * (border * scale)
        line += b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        line += b"\xff" * (border * scale)
        rows += [line] * scale
    rows += [blank] * (border * scale)
    image = Image.frombytes("L", (width, len(rows)), b"".join(rows))
    results = zxingcpp.read_barcodes(image)
    assert results, "no QR code found"
    return results[0].text
