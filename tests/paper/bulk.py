"""Many paper deliveries at once, for the 1,000-letter test and the print-batch benchmark.

One document is dispatched for real (sealed, stored, evidenced) to an account without
electronic delivery, so it goes to paper; then ``n - 1`` more accounts (each its own address)
get deliveries of the same document as :func:`mailbox.deliveries.rules.relay_to_paper` leaves
them, each with its ``paper.job`` outbox row, in one transaction. Their evidence records are
left out: a letter and a print batch read none, and signing a thousand would only slow the
set-up. The letters are then made by the real outbox drain.
"""

from __future__ import annotations

from mailbox.clock import now
from mailbox.deliveries.events import enqueue
from mailbox.deliveries.paper_rule import PaperDecision, PaperReason
from mailbox.deliveries.rules import relay_to_paper
from mailbox.evidence.log import EvidenceType
from mailbox.models import Account, Delivery
from mailbox.services import Services
from tests.factories import World, deliver

REASON = "the account has no active electronic delivery (no consent or no verified address)"


def address_of(n: int) -> tuple[str, str]:
    """The name and postal address of the ``n``-th recipient (unique per ``n``)."""
    return f"Applicant {n:04d} GmbH", f"Musterweg {n}\n{10000 + n} Musterstadt\nGermany"


async def paper_deliveries(services: Services, world: World, n: int) -> list[Delivery]:
    """``n`` paper-queued deliveries of ``world``'s office, the first to ``world.account``."""
    first = await deliver(services, world)
    assert first.status == "paper_queued"
    made = [first]
    async with services.db.write() as session:
        at = now()
        accounts = []
        for k in range(1, n):
            name, address = address_of(k)
            accounts.append(Account(name=name, postal_address=address))
        session.add_all(accounts)
        await session.flush()
        for account in accounts:
            delivery = Delivery(
                document_id=first.document_id,
                account_id=account.id,
                office_id=first.office_id,
                dossier_number=first.dossier_number,
                submitted_at=at,
            )
            relay_to_paper(delivery, at=at, decision=PaperDecision(PaperReason.NO_CONSENT, REASON))
            session.add(delivery)
            made.append(delivery)
        await session.flush()
        for delivery, account in zip(made[1:], accounts, strict=True):
            enqueue(session, delivery, account, EvidenceType.RELAY_TO_NON_ERDS)
    return made
