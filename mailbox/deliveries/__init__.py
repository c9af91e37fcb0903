"""Deliveries: one document to one account and its legal timeline.

- :mod:`.rules`: the delivery state machine (pure: one function per arrow, each returning its
  evidence draft).
- :mod:`.paper_rule`: who gets paper instead of electronic delivery, and the one sentence that
  says why (pure); :mod:`.postal`: a recipient without an account (a postal address, the
  postal-only addressee); :mod:`.paper_kinds`: the kinds an office serves on paper only.
- :mod:`.legal_clock`: the dates that count (deemed delivery, reminders, deadlines): pure.
- :mod:`.calendars`: office calendars of closed days and certified outage periods as the legal
  clock reads them, and what they do to a date: pure (the ``holidays`` library feeds them).
- :mod:`.clock_rules`: each office's rule per document kind, its time zone and its calendar.
- :mod:`.outages`: certify an outage (signed, timestamped certificate; evidence) and extend
  the deliveries it touches (a use case owning its transaction); the public list.
- :mod:`.events`: what follow-up work (outbox rows) each delivery event causes.
- :mod:`.filenames`: the safe name a document keeps from the one its sender gave (pure).
- :mod:`.retention`: how long content and evidence are kept per office and document kind.
- :mod:`.dispatch`, :mod:`.pickup`, :mod:`.scans`, :mod:`.purge`: the use cases (dispatch, pick
  up, the legal-clock scans, the retention purge); each owns its transactions.
- :mod:`.inbox`: read functions (an inbox page, one delivery with its timeline).
- :mod:`.office_list`: an office's list of its dispatches and its filters (read functions).
- Bulk dispatch: :mod:`.manifest` (a batch's manifest, read and checked: pure),
  :mod:`.batch_files` (its upload on disk), :mod:`.batches` (create a batch, read batches and
  their items) and :mod:`.batch_runner` (the background use case: chunks of items, each
  through :mod:`.dispatch`).

May import: the shared base, ``mailbox.models``, ``mailbox.signing``, ``mailbox.storage``,
``mailbox.evidence``, ``mailbox.identity``. Never notifications, paper, proof, the web or the
CLI (they build on this room, not the other way round).
"""
