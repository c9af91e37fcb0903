"""Proof of delivery: the bundle an auditor takes away (:mod:`.bundle`) and its offline checks
with the service's root certificate alone (:mod:`.check`, :mod:`.check_records`,
:mod:`.check_checkpoint`); the proof of a transmission, every hop's bundle and the chain
between them (:mod:`.transmission`), and its offline check (:mod:`.check_transmission`).

May import: the shared base, ``mailbox.models``, ``mailbox.signing``, ``mailbox.evidence``,
``mailbox.identity``, ``mailbox.deliveries`` and ``mailbox.transmissions``. The offline checks
import no database code.
"""
