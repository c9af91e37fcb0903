"""Notifications: everything that leaves after a commit, and the account's say in it.

- :mod:`.outbox`: the drain (claim, hand each channel its messages, record) and its one table
  of channel handlers (the contract is :mod:`mailbox.channels`); :mod:`.claim` claims the
  due messages, holding back a channel whose circuit is open (:mod:`mailbox.circuits`).
- :mod:`.email_channel`: the email channel (compose, send through the configured transport,
  record what an alert's fate means).
- :mod:`.alerts`, :mod:`.alert_outcomes`, :mod:`.digests`: alert emails, what their fate means
  for the deliveries, the daily digest.
- :mod:`.settings`: an account's addresses, alert mode, reminders, language and consent.
- :mod:`.webhooks`, :mod:`.webhook_events`: subscriptions, and the webhook channel (fan-out
  and posting of delivery events). The paper channel is :mod:`mailbox.paper.channel`, the
  transmission channel :mod:`mailbox.transmissions.channel`.
- :mod:`.feed`, :mod:`.feed_wait`: the event feed (every delivery event a caller may see, in
  the evidence log's commit order, from a signed cursor) and its long-poll.
- :mod:`.dead_letters`: the operator's view of pending and dead messages, and retrying them.

May import: the shared base, ``mailbox.models``, ``mailbox.evidence``, ``mailbox.identity``,
``mailbox.deliveries``, ``mailbox.coverage`` (the words of a hub's reminders),
``mailbox.paper``, ``mailbox.transmissions`` (its outbox channel) and the transport package
``notifier``. Never the web or the CLI.
"""
