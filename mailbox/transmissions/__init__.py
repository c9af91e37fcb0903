"""Transmissions: an office sends another office a package (a manifest and its documents: PDFs,
JSON or XML) about an international application, directly or through a hub office (as WIPO's
International Bureau routes search copies).

The sender dispatches once. Every hop is an ordinary delivery of ONE document, the package
document (the service's sealed record of the manifest, the documents' sealed forms and the
route), into the next office's mailbox, so that evidence, alerts, webhooks, the event feed,
proof bundles and pickup apply to each hop unchanged. A hub's system receives its hop through
the outbox (a ``transmission.forward`` message): it takes the package, the service signs a
ReceiptAcknowledgement, and the hub forwards it at once or holds it for its people, as its
forwarding rule says.

- :mod:`.package`: the route and the package document (pure).
- :mod:`.send`: the use case that sends a transmission (checks, seals, one transaction);
  :mod:`.recording` writes its rows, :mod:`.rejections` the record of a refused one.
- :mod:`.forwarding`: a hub receives a hop and forwards it (automatically or by hand);
  :mod:`.rules`: the hubs' forwarding rules.
- :mod:`.status`: read functions: one transmission end to end, the list of an office's, who
  may see them; :mod:`.documents`: the download of one document of a package (a recorded
  access).
- :mod:`.channel`: the outbox channel that runs a hub's receipt.

May import: the shared base, ``mailbox.models``, ``mailbox.signing``, ``mailbox.storage``,
``mailbox.evidence``, ``mailbox.identity``, ``mailbox.deliveries``, ``mailbox.formats``. Never
notifications, paper, proof, the web or the CLI (the transmission proof bundle lives in
``mailbox.proof``, which builds on this room).
"""
