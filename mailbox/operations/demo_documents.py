"""The demo's documents: official-looking one-page PDFs (the same text gives the same bytes)."""

from __future__ import annotations

import io

__all__ = ["demo_pdf"]


def demo_pdf(title: str, body: str = "") -> bytes:
    """A one-page official-looking PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=True)  # same input, same bytes
    page.setFont("Helvetica-Bold", 16)
    page.drawString(72, 770, "Demo Patent Office")
    page.setFont("Helvetica", 12)
    page.drawString(72, 740, title[:90])
    text = page.beginText(72, 700)
    for line in (body or "This is a demonstration document served electronically.").split("\n"):
        text.textLine(line)
    page.drawText(text)
    page.showPage()
    page.save()
    return buffer.getvalue()
