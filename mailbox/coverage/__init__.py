"""Coverage: what a hub office expects from the offices that owe it items (national-phase
entry notices, search copies, ...), what reached its mailbox, and reminders to those behind.

- :mod:`.rule`: the one rule of "on time" (the due day in the hub's time zone, to its end)
  and the class of each expected item: on time, late, missing, pending (pure).
- :mod:`.expected`: the hub's list of expected items, read and checked line by line (one
  refusal naming every bad line and field), then upserted.
- :mod:`.report`: the report of a period: each expected item with its class, the counts per
  sending office, and what was received but not expected (two queries for the expected items
  and their deliveries, one for the rest).
- :mod:`.reminders`: one reminder email per sending office with late or missing items (an
  outbox row; the email channel composes it), at most once a day per item.
- :mod:`.hub`: the use cases of the hub's people (each owns its transaction and asks the
  access policy).

Items are matched with deliveries alone: a delivery into the hub's mailbox account from the
sending office, whose document is of the item's kind and whose dossier number is the item's
international application number.

May import: the shared base, ``mailbox.models``, ``mailbox.identity``, ``mailbox.deliveries``,
``mailbox.evidence`` and ``mailbox.formats``. The API, the CLI and notifications read this
room, never the other way round.
"""
