"""Active content in PDFs: each kind an attacker uses is found and named with where it sits;
genuine PDFs from several producers carry none and seal as before; the scan stops at its bounds
on hostile structures (reference loops, deep nesting) and says it could not finish."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from mailbox.signing.active_content import MAX_NESTING, scan_active_content
from mailbox.signing.object_streams import MAX_DECODED
from mailbox.signing.pki import KeyMaterial
from mailbox.signing.receipt import render_receipt
from mailbox.signing.seal import PdfRejected, Sealer, validate_sealed_pdf
from tests.fixtures import hostile
from tests.fixtures.pki import render_pdf
from tests.unit.test_signing_seal import office_signed


def _scan(pdf: bytes):
    return scan_active_content(PdfFileReader(io.BytesIO(pdf), strict=False))


@pytest.mark.parametrize(
    ("build", "kind", "place"),
    [
        (hostile.javascript_open_action, "javascript", "OpenAction"),
        (hostile.javascript_names_tree, "javascript", "Names tree"),
        (hostile.launch_action, "launch", "annotation"),
        (hostile.embedded_file, "embedded_file", "EmbeddedFiles"),
        (hostile.file_attachment_annotation, "embedded_file", "annotation"),
        (hostile.submit_form, "submit_form", "annotation"),
        (hostile.xfa_form, "xfa", "form"),
        (hostile.rich_media, "rich_media", "annotation"),
    ],
    ids=list(hostile.ACTIVE_CONTENT),
)
def test_scan_finds_each_kind_of_active_content_where_it_sits(
    build: Callable[[], bytes], kind: str, place: str
) -> None:
    report = _scan(build())

    assert report.complete
    assert [(f.kind, f.places) for f in report.findings] == [(kind, (place,))]


def test_scan_summary_names_every_finding_and_the_embedded_file() -> None:
    report = _scan(hostile.javascript_and_embedded_file("update.exe"))

    assert report.summary() == (
        "the PDF contains JavaScript (OpenAction) and an embedded file (EmbeddedFiles: update.exe)"
    )
    assert report.as_evidence() == {
        "found": [
            {"kind": "javascript", "places": ["OpenAction"]},
            {"kind": "embedded_file", "places": ["EmbeddedFiles"]},
        ],
        "complete": True,
        "file_names": ["update.exe"],
    }


def _reportlab_with_outline_and_links(pages: int = 2) -> bytes:
    """reportlab with bookmarks, internal links and web links: actions that are harmless."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for number in range(1, pages + 1):
        document.bookmarkPage(f"p{number}")
        document.addOutlineEntry(f"Page {number}", f"p{number}", level=0)
        document.drawString(72, 770, f"Decision, page {number}")
        document.linkURL("https://register.example/EP23123456", (72, 700, 300, 720))
        document.linkAbsolute("To page 1", "p1", (72, 650, 300, 670))
        document.showPage()
    document.save()
    return buffer.getvalue()


def _pillow_scan() -> bytes:
    """A scanned letter as an image-only PDF, as scanners and Pillow write them."""
    buffer = io.BytesIO()
    Image.new("L", (400, 560), color=240).save(buffer, format="PDF", resolution=50)
    return buffer.getvalue()


def _pyhanko_writer() -> bytes:
    """A page written by pyHanko's own writer."""
    writer = PdfFileWriter()
    content = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 770 Td (Notice) Tj ET")
    writer.insert_page(PageObject(writer.add_object(content), (0, 0, 595, 842)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _empty_signature_field() -> bytes:
    """A form with a signature field left for the applicant to sign: no signature yet."""
    writer = IncrementalPdfFileWriter(io.BytesIO(render_pdf()))
    append_signature_field(writer, SigFieldSpec("ApplicantSignature", box=(72, 72, 272, 122)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _receipt() -> bytes:
    return render_receipt("Receipt", [("Delivery", "dlv_1")], [("2026-01-01", "x", "y")])


PRODUCERS: dict[str, Callable[[], bytes]] = {
    "reportlab-outline-and-links": _reportlab_with_outline_and_links,
    "reportlab-300-pages": lambda: render_pdf(pages=300),
    "pillow-scan": _pillow_scan,
    "pyhanko-writer": _pyhanko_writer,
    "reportlab-platypus-receipt": _receipt,
    "empty-signature-field": _empty_signature_field,
}


@pytest.mark.parametrize("build", PRODUCERS.values(), ids=PRODUCERS.keys())
def test_genuine_pdfs_carry_no_active_content_and_seal(
    build: Callable[[], bytes], sealer: Sealer, key_material: KeyMaterial
) -> None:
    sealed = sealer.seal_document(build(), reason="Official communication")

    assert not sealed.active_content
    assert sealed.active_content.complete
    assert validate_sealed_pdf(sealed.pdf, trust_root=key_material.root_cert).ok


def test_office_signed_pdf_has_no_active_content_and_keeps_its_signature(
    sealer: Sealer, sample_pdf: bytes, key_material: KeyMaterial, other_key_material: KeyMaterial
) -> None:
    sealed = sealer.seal_document(
        office_signed(sample_pdf, other_key_material), reason="Official communication"
    )

    assert not sealed.active_content
    assert validate_sealed_pdf(sealed.pdf, trust_root=key_material.root_cert).ok
    assert len(PdfFileReader(io.BytesIO(sealed.pdf)).embedded_signatures) == 2


def test_scan_ends_on_a_reference_loop() -> None:
    def loop(writer) -> None:
        item = generic.DictionaryObject(
            {generic.NameObject("/Title"): generic.TextStringObject("a")}
        )
        ref = writer.add_object(item)
        item[generic.NameObject("/Next")] = ref
        item[generic.NameObject("/First")] = ref
        writer.root[generic.NameObject("/Outlines")] = ref

    report = _scan(hostile.altered(loop))

    assert report.complete
    assert not report


def _deeply_nested_dictionaries(depth: int) -> bytes:
    """A catalog entry of ``depth`` nested direct dictionaries with JavaScript at the bottom."""
    nested = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    for _ in range(depth):
        nested = b"<< /Inner " + nested + b" >>"
    return hostile.raw_pdf(b"/Deep " + nested)


def test_scan_stops_at_its_nesting_bound_and_says_so(sealer: Sealer) -> None:
    pdf = _deeply_nested_dictionaries(MAX_NESTING + 10)

    report = _scan(pdf)
    with pytest.raises(PdfRejected) as refused:
        sealer.seal_document(pdf, reason="Official communication")
    allowed = sealer.seal_document(pdf, reason="Official", active_content="allow")

    assert not report.complete
    assert refused.value.reason == "active_content"
    assert "too deeply nested to be checked for active content" in str(refused.value)
    assert not allowed.active_content.complete


def test_scan_within_its_nesting_bound_finds_what_is_deep_inside() -> None:
    report = _scan(_deeply_nested_dictionaries(MAX_NESTING - 5))

    assert report.complete
    assert report.kinds == ("javascript",)


@pytest.mark.parametrize(
    "build",
    [hostile.javascript_in_object_stream, hostile.javascript_in_escaped_names],
    ids=["in-object-stream", "in-escaped-names"],
)
def test_javascript_hidden_from_a_search_of_the_bytes_is_still_refused(
    sealer: Sealer, build: Callable[[], bytes]
) -> None:
    pdf = build()
    with pytest.raises(PdfRejected) as refused:
        sealer.seal_document(pdf, reason="Official communication")

    assert b"/JavaScript" not in pdf and b"/JS" not in pdf
    assert refused.value.active_content is not None
    assert [(f.kind, f.places) for f in refused.value.active_content.findings] == [
        ("javascript", ("OpenAction",))
    ]


def test_a_pdf_whose_bytes_name_nothing_active_is_not_walked(sealer: Sealer) -> None:
    """What keeps the scan cheap: a document with bookmarks and links whose bytes name
    nothing active is cleared without parsing its objects (the report counts none)."""
    pdf = _reportlab_with_outline_and_links(pages=30)

    assert sealer.seal_document(pdf, reason="Official").active_content.objects == 0
    assert _scan(pdf).objects > 0


@pytest.mark.parametrize("filters", [b"/FlateDecode", b"[/FlateDecode]"], ids=["name", "array"])
def test_an_object_stream_that_inflates_past_the_bound_is_refused_before_it_is_read(
    sealer: Sealer, filters: bytes
) -> None:
    """80 MB of inflated object stream in an 80 kB file: refused once 64 MB are inflated, before
    the parser reads the object the catalog names in it (and inflates all of it)."""
    pdf = hostile.object_stream_bomb(filters=filters)

    with pytest.raises(PdfRejected) as refused:
        sealer.seal_document(pdf, reason="Official communication")

    assert len(pdf) < 200_000
    assert refused.value.reason == "malformed"
    assert str(refused.value) == (
        "The PDF could not be read: its compressed object streams inflate to more than "
        f"{MAX_DECODED} bytes"
    )
