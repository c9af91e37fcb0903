"""Paper: what happens to a delivery that cannot be served electronically. The decision of who
gets paper is the state machine's (:func:`mailbox.deliveries.rules.electronic_delivery_possible`);
this room does what follows it: the paper channel of the outbox (:mod:`.channel`), which
renders each delivery's letter (:mod:`.letters`) with its retrieval code (:mod:`.codes`); the
print batches (:mod:`.batches`); posted and returned letters (:mod:`.posting`); and the
electronic copy opened with a retrieval code (:mod:`.retrieval`).

May import: the shared base (including :mod:`mailbox.channels`, the contract of an outbox
channel, and :mod:`mailbox.services`), ``mailbox.models``, ``mailbox.evidence``,
``mailbox.storage``, ``mailbox.signing``, ``mailbox.deliveries``, ``mailbox.identity`` (the
access policy) and the transport package ``notifier``. Never notifications, the web or the
CLI.
"""
