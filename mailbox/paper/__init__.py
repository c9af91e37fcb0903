"""Paper: what happens to a delivery that cannot be served electronically. The decision of who
gets paper is the deliveries room's (:func:`mailbox.deliveries.paper_rule.who_gets_paper`,
which dispatch and the alert outcomes both need, and this room may not be imported by them);
this room does what follows it: the paper channel of the outbox (:mod:`.channel`), and later
letters, print batches, posted and returned items and retrieval codes.

May import: the shared base (including :mod:`mailbox.channels`, the contract of an outbox
channel), ``mailbox.models``, ``mailbox.evidence``, ``mailbox.storage``,
``mailbox.deliveries`` and the transport package ``notifier``. Never notifications, the web
or the CLI.
"""
