"""Paper: what happens to a delivery that cannot be served electronically. The decision of who
gets paper is the deliveries room's (:func:`mailbox.deliveries.paper_rule.who_gets_paper`,
which dispatch and the alert outcomes both need, and this room may not be imported by them);
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
