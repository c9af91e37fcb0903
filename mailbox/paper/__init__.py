"""Paper: what happens to a delivery that cannot be served electronically. The decision of who
gets paper is the state machine's (:func:`mailbox.deliveries.rules.electronic_delivery_possible`);
this room does what follows it: the paper channel of the outbox, and later letters, print
batches, posted and returned items and retrieval codes.

May import: the shared base, ``mailbox.models``, ``mailbox.evidence``, ``mailbox.storage``,
``mailbox.deliveries``. Never notifications, the web or the CLI.
"""
