"""Proof of delivery: the bundle an auditor takes away (:mod:`.bundle`) and its offline checks
with the service's root certificate alone (:mod:`.check`, :mod:`.check_records`,
:mod:`.check_checkpoint`).

May import: the shared base, ``mailbox.models``, ``mailbox.signing``, ``mailbox.evidence``,
``mailbox.identity`` and ``mailbox.deliveries``. The offline checks import no database code.
"""
