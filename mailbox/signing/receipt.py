"""The human-readable receipt of a proof of delivery: an A4 PDF, sealed afterwards by the caller."""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

__all__ = ["render_receipt"]

_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def render_receipt(
    title: str, rows: list[tuple[str, str]], events: list[tuple[str, str, str]]
) -> bytes:
    """A4 PDF: ``title``, a label/value table of ``rows``, then ``events`` (time, type, actor)."""
    styles = getSampleStyleSheet()
    body = styles["BodyText"]

    def cell(text: str) -> Paragraph:
        # Values come from users (titles, names): escape them, Paragraph reads markup.
        return Paragraph(escape(text), body)

    width = A4[0] - 40 * mm
    facts = Table(
        [[cell(label), cell(value)] for label, value in rows],
        colWidths=[0.3 * width, 0.7 * width],
        style=_GRID,
    )
    header = TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)])
    timeline = Table(
        [[cell(h) for h in ("Time (UTC)", "Event", "Actor")]]
        + [[cell(at), cell(kind), cell(actor)] for at, kind, actor in events],
        colWidths=[0.32 * width, 0.38 * width, 0.3 * width],
        style=_GRID,
        repeatRows=1,
    )
    timeline.setStyle(header)
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        invariant=True,  # the same receipt renders to the same bytes
    )
    document.build(
        [
            Paragraph(escape(title), styles["Title"]),
            facts,
            Spacer(1, 8 * mm),
            Paragraph("Events", styles["Heading2"]),
            timeline,
        ]
    )
    return buffer.getvalue()
