"""The sealing pool, in a thread (workers=0) and in a worker process (workers=1)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbox.signing.pki import KeyMaterial, KeyMaterialMissing
from mailbox.signing.pool import SealingPool
from mailbox.signing.seal import PdfRejected, validate_sealed_pdf
from tests.fixtures import hostile


@pytest.fixture(scope="module", params=[0, 1], ids=["thread", "process"])
def pool(request: pytest.FixtureRequest, pki_dir: Path) -> Iterator[SealingPool]:
    sealing = SealingPool(pki_dir, workers=request.param)
    yield sealing
    sealing.close()


async def test_pool_seal_validates(
    pool: SealingPool, sample_pdf: bytes, key_material: KeyMaterial
) -> None:
    sealed = await pool.seal(sample_pdf, reason="Official communication", location="EP")

    assert validate_sealed_pdf(sealed, trust_root=key_material.root_cert).ok


async def test_pool_seals_concurrently(
    pool: SealingPool, make_pdf, key_material: KeyMaterial
) -> None:
    pdfs = [make_pdf(pages=n) for n in (1, 2, 3)]

    sealed = await asyncio.gather(*(pool.seal(pdf, reason="Batch") for pdf in pdfs))

    for original, result in zip(pdfs, sealed, strict=True):
        assert result.startswith(original)
        assert validate_sealed_pdf(result, trust_root=key_material.root_cert).ok


async def test_pool_seal_of_non_pdf_raises_pdf_rejected(pool: SealingPool) -> None:
    with pytest.raises(PdfRejected) as caught:
        await pool.seal(b"just text", reason="Official communication")

    assert caught.value.reason == "not_pdf"
    assert "not a PDF" in str(caught.value)


async def test_pool_refuses_active_content_with_what_was_found(pool: SealingPool) -> None:
    with pytest.raises(PdfRejected) as caught:
        await pool.seal_document(hostile.javascript_open_action(), reason="Official")

    assert caught.value.reason == "active_content"
    assert caught.value.active_content is not None
    assert caught.value.active_content.kinds == ("javascript",)


async def test_pool_seals_allowed_active_content_and_reports_it(
    pool: SealingPool, key_material: KeyMaterial
) -> None:
    sealed = await pool.seal_document(
        hostile.launch_action(), reason="Official", active_content="allow"
    )

    assert sealed.active_content.kinds == ("launch",)
    assert validate_sealed_pdf(sealed.pdf, trust_root=key_material.root_cert).ok


def test_pool_without_pki_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialMissing):
        SealingPool(tmp_path, workers=1)


async def test_closed_pool_refuses_to_seal(pki_dir: Path, sample_pdf: bytes) -> None:
    sealing = SealingPool(pki_dir, workers=0)
    sealing.close()
    sealing.close()

    with pytest.raises(RuntimeError, match="closed"):
        await sealing.seal(sample_pdf, reason="Late")


def test_pool_module_imports_no_web_or_database() -> None:
    # What a worker process imports before its first seal.
    probe = (
        "import sys, mailbox.signing.pool; "
        "print(sorted(m for m in ('litestar', 'sqlalchemy', 'sqlmodel', 'mailbox.api', "
        "'mailbox.db', 'reportlab') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert result.stdout.strip() == "[]"
