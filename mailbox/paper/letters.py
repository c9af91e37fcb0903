"""Paper letters: the print-ready PDF of one paper delivery, an A4 cover letter followed by the
pages of the sealed document (for a JSON or XML data document, pages printing its fields and
its SHA-256: a data document has no pages of its own). Pure rendering (reportlab, segno,
pypdf): no database, no I/O.

The cover letter follows DIN 5008 form B, so that the recipient's address shows through the
window of a DL or C5/6 window envelope (DIN 680, window 90 x 45 mm, 20 mm from the left) when
the sheet is folded at the fold marks (105 mm and 210 mm from the top):

- address field: 20 mm from the left edge, 45 mm from the top, 85 mm wide, 45 mm high;
- its first 17.7 mm (45-62.7 mm from the top) hold the return address in 7 pt type;
- the recipient's address: up to 6 lines of 10 pt, 25 mm from the left edge (5 mm inside
  the field), the first baseline 67 mm from the top, the last above 90 mm;
- the information block (date, dossier, delivery): 125 mm from the left, from 50 mm.

The words are in ``templates/letters/<language>.toml``; where they go is here
(:data:`LAYOUT`, which the tests read to find the address and the QR code).
"""

from __future__ import annotations

import io
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import segno
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from mailbox.config import TEMPLATES_DIR
from mailbox.paper.codes import format_code

__all__ = ["LAYOUT", "Layout", "LetterContent", "RenderedLetter", "render_letter"]


@dataclass(frozen=True)
class Layout:
    """Where the parts of the cover page go, in millimetres from the page's top-left corner."""

    window_left: float = 20.0
    window_top: float = 45.0
    window_width: float = 85.0
    window_height: float = 45.0
    return_baseline: float = 60.0  # the return address, inside the field's top zone
    address_left: float = 25.0
    address_first_baseline: float = 67.0
    address_line: float = 4.23  # 12 pt leading
    address_lines: int = 6
    info_left: float = 125.0
    info_top: float = 50.0
    text_left: float = 25.0
    text_right: float = 190.0
    subject_baseline: float = 103.0
    qr_left: float = 25.0
    qr_top: float = 205.0
    qr_module: float = 0.7  # one module of the QR code (no quiet zone drawn: white paper)
    folds: tuple[float, ...] = (105.0, 210.0)
    punch: float = 148.5


LAYOUT = Layout()
PAGE_WIDTH, PAGE_HEIGHT = A4


@dataclass(frozen=True)
class LetterContent:
    """What one cover letter says; ``document`` is the sealed PDF that follows it."""

    language: str
    office_name: str
    office_address: str
    recipient_name: str
    recipient_address: str
    letter_date: date
    dossier_number: str
    delivery_id: str
    title: str
    legal_effect: str  # the legal clock's sentence (mailbox.deliveries.legal_clock)
    code: str  # normalised retrieval code
    retrieval_url: str
    base_url: str
    document: bytes
    # A data document (JSON, XML) printed instead of appended: its fields (name, value), what
    # it is in words ("JSON notice") and the SHA-256 of the document as sealed.
    data_fields: tuple[tuple[str, str], ...] | None = None
    data_words: str = ""
    data_sha256: str = ""


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    pages: int
    address: str  # the lines printed in the window, joined by newlines


@cache
def _words(language: str) -> dict[str, Any]:
    path = TEMPLATES_DIR / "letters" / f"{language}.toml"
    if not path.exists():
        path = TEMPLATES_DIR / "letters" / "en.toml"
    with path.open("rb") as file:
        return tomllib.load(file)


def window_lines(name: str, postal_address: str, limit: int = LAYOUT.address_lines) -> list[str]:
    """The recipient's lines as they fit the window: the name, then the address's lines;
    blank lines dropped, and lines beyond the window's ``limit`` joined onto the last one, so
    that no part of the address is ever cut off."""
    lines = [line.strip() for line in [name, *postal_address.splitlines()] if line.strip()]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], ", ".join(lines[limit - 1 :])]
    return lines


def _y(top_mm: float) -> float:
    return PAGE_HEIGHT - top_mm * mm


def _cover(content: LetterContent, pages_of_document: int) -> tuple[bytes, list[str]]:
    words = _words(content.language)
    fill = {
        "office": content.office_name,
        "title": content.title,
        "dossier": content.dossier_number,
        "base_url": content.base_url,
        "pages": f"{pages_of_document} page{'' if pages_of_document == 1 else 's'}",
    }
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0)
    canvas.setTitle(f"Letter {content.delivery_id}")
    canvas.setAuthor(content.office_name)
    layout = LAYOUT
    # Fold and punch marks on the left edge.
    canvas.setLineWidth(0.3)
    for mark in (*layout.folds, layout.punch):
        canvas.line(0, _y(mark), (5 if mark != layout.punch else 7) * mm, _y(mark))
    # Return address (one line, small) and the recipient's address: the envelope's window.
    sender = " · ".join(
        part.strip()
        for part in [content.office_name, *content.office_address.splitlines()]
        if part.strip()
    )
    inside = (layout.window_left + layout.window_width - layout.address_left - 2) * mm
    canvas.setFont("Helvetica", _fitting(sender, 7, 5, inside))
    canvas.drawString(layout.address_left * mm, _y(layout.return_baseline), sender)
    lines = window_lines(content.recipient_name, content.recipient_address)
    for n, line in enumerate(lines):
        baseline = layout.address_first_baseline + n * layout.address_line
        canvas.setFont("Helvetica", _fitting(line, 10, 7, inside))
        canvas.drawString(layout.address_left * mm, _y(baseline), line)
    # Information block.
    info = [
        (words["office_label"], content.office_name),
        (words["date_label"], content.letter_date.isoformat()),
        (words["dossier_label"], content.dossier_number),
        (words["delivery_label"], content.delivery_id),
    ]
    for n, (label, value) in enumerate(info):
        top = layout.info_top + n * 4.5
        canvas.setFont("Helvetica", 7)
        canvas.drawString(layout.info_left * mm, _y(top), label)
        canvas.setFont("Helvetica", 9)
        canvas.drawString(layout.info_left * mm, _y(top + 3.2), value[:48])
    # Subject, text, legal effect.
    width = (layout.text_right - layout.text_left) * mm
    top = layout.subject_baseline
    canvas.setFont("Helvetica-Bold", 11)
    for line in _wrap(words["subject"].format(**fill), "Helvetica-Bold", 11, width):
        canvas.drawString(layout.text_left * mm, _y(top), line)
        top += 5.5
    top += 4
    canvas.setFont("Helvetica", 10)
    paragraphs = [words["greeting"], " ".join(p.format(**fill) for p in words["body"])]
    for paragraph in paragraphs:
        for line in _wrap(paragraph, "Helvetica", 10, width):
            canvas.drawString(layout.text_left * mm, _y(top), line)
            top += 5
        top += 2.5
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(layout.text_left * mm, _y(top), words["effect_label"])
    top += 5
    canvas.setFont("Helvetica", 10)
    for line in _wrap(content.legal_effect, "Helvetica", 10, width):
        canvas.drawString(layout.text_left * mm, _y(top), line)
        top += 5
    # Retrieval: the heading and words above the code, the QR code beside it.
    top = layout.qr_top - 12
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(layout.text_left * mm, _y(top), words["retrieval_heading"])
    canvas.setFont("Helvetica", 9)
    for line in words["retrieval"]:
        top += 4.5
        canvas.drawString(layout.text_left * mm, _y(top), line.format(**fill))
    size = _draw_qr(canvas, content.retrieval_url)
    code_left = layout.qr_left + size + 8
    canvas.setFont("Helvetica", 8)
    canvas.drawString(code_left * mm, _y(layout.qr_top + 6), words["code_label"])
    canvas.setFont("Courier-Bold", 14)
    canvas.drawString(code_left * mm, _y(layout.qr_top + 13), format_code(content.code))
    canvas.setFont("Helvetica", 7)
    canvas.drawString(code_left * mm, _y(layout.qr_top + 19), content.retrieval_url)
    canvas.setFont("Helvetica", 9)
    canvas.drawString(layout.text_left * mm, _y(272), words["enclosure"].format(**fill))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue(), lines


def _draw_qr(canvas: Canvas, url: str) -> float:
    """The QR code of ``url`` at :data:`LAYOUT`'s place, one filled rectangle per run of dark
    modules in a row; its size in mm."""
    qr = segno.make(url, error="m", micro=False)
    module = LAYOUT.qr_module
    rows = list(qr.matrix_iter(border=0))
    path = canvas.beginPath()
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            x = (LAYOUT.qr_left + start * module) * mm
            y = _y(LAYOUT.qr_top + (r + 1) * module)
            path.rect(x, y, (c - start) * module * mm, module * mm)
    canvas.drawPath(path, stroke=0, fill=1)
    return len(rows) * module


def _fitting(text: str, size: float, smallest: float, width: float) -> float:
    """The largest type size from ``size`` down to ``smallest`` (half points) at which ``text``
    fits ``width`` in Helvetica, so that it stays inside the envelope's window."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > smallest and stringWidth(text, "Helvetica", size) > width:
        size -= 0.5
    return size


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _data_pages(content: LetterContent) -> bytes:
    """A data document's fields printed on A4 pages: a heading, one field a line (long values
    wrapped), then its SHA-256, which identifies the sealed original."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0)
    canvas.setTitle(content.title)
    left, width, top, bottom, leading = 25 * mm, 165 * mm, 270 * mm, 25 * mm, 5 * mm
    y = top

    def line(text: str, font: str = "Helvetica", size: float = 10, indent: float = 0) -> None:
        nonlocal y
        if y < bottom:
            canvas.showPage()
            y = top
        canvas.setFont(font, size)
        canvas.drawString(left + indent, y, text)
        y -= leading

    line(content.title, "Helvetica-Bold", 12)
    line(f"{content.data_words[:1].upper()}{content.data_words[1:]}, printed field by field.")
    y -= leading
    for name, value in content.data_fields or ():
        line(name, "Helvetica-Bold")
        for part in _wrap(value, "Helvetica", 10, width - 8 * mm) or ["—"]:
            line(part, indent=8 * mm)
    y -= leading
    line("SHA-256 of the sealed document:", size=8)
    line(content.data_sha256, "Courier", 8)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_letter(content: LetterContent) -> RenderedLetter:
    """The letter: the cover page, then every page of the sealed document. CPU-bound: run it
    in a worker thread. ``ValueError`` if the document cannot be read as a PDF."""
    printed = content.document if content.data_fields is None else _data_pages(content)
    document = PdfReader(io.BytesIO(printed))
    pages_of_document = len(document.pages)
    cover, lines = _cover(content, pages_of_document)
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(cover)))
    # The pages only: a print has no use for the seal's form fields and signatures.
    writer.append(document, import_outline=False, excluded_fields=["/Annots", "/AcroForm"])
    output = io.BytesIO()
    writer.write(output)
    return RenderedLetter(output.getvalue(), 1 + pages_of_document, "\n".join(lines))
