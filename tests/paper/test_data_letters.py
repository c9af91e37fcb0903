"""A JSON notice served on paper: it has no pages of its own, so its letter prints the
notice's fields and its SHA-256 after the cover (the notice itself stays stored as canonical
JSON)."""

from __future__ import annotations

import json

from mailbox.deliveries.dispatch import DispatchRequest, dispatch
from mailbox.notifications.outbox import drain_until_idle
from mailbox.services import Services
from mailbox.signing.detached import canonical_json
from tests.api.test_data_notices import NOTICE
from tests.paper.conftest import PaperWorld, letter_of


async def test_a_notice_on_paper_prints_its_fields_after_the_cover(
    services: Services, paper: PaperWorld
) -> None:
    world = paper.world
    dispatched = await dispatch(
        services,
        DispatchRequest(
            office_id=world.office.id,
            recipient_account_id=world.account.id,
            kind_code="national-phase-entry",
            dossier_number="PCT/EP2026/012345",
            title="National-phase entry notice",
            filename="notice.json",
            pdf=json.dumps(NOTICE).encode(),
            media_type="application/json",
        ),
        actor=f"user:{world.dispatcher.id}",
    )
    assert dispatched.delivery.status == "paper_queued"

    await drain_until_idle(services, worker_id="test", lanes=1)

    letter, pdf = await letter_of(services, dispatched.delivery.id)
    assert len(pdf.pages) == letter.pages == 2
    printed = pdf.pages[1].extract_text()
    assert "JSON notice, printed field by field." in printed
    for label in ("International application number", "Designated office", "Entry date"):
        assert label in printed
    for value in ("PCT/EP2026/012345", "2026-501234", "2026-11-20", "entered", "ACME-17"):
        assert value in printed
    assert dispatched.view.document.sealed_sha256 in printed
    assert services.blobs.get(dispatched.view.document.sealed_sha256) == canonical_json(NOTICE)
