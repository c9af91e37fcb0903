"""Notifications: everything that leaves after a commit, and the account's say in it.

- :mod:`.outbox`: the drain (claim, send channel by channel, record).
- :mod:`.alerts`, :mod:`.alert_outcomes`, :mod:`.digests`: alert emails, what their fate means
  for the deliveries, the daily digest.
- :mod:`.settings`: an account's addresses, alert mode, reminders, language and consent.
- :mod:`.webhooks`, :mod:`.webhook_events`: subscriptions, and posting delivery events.

May import: the shared base, ``mailbox.models``, ``mailbox.evidence``, ``mailbox.identity``,
``mailbox.deliveries``, ``mailbox.paper`` and the transport package ``notifier``. Never the web
or the CLI.
"""
