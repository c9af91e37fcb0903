"""Evidence: the signed, hash-linked, timestamped log of legally meaningful events
(:mod:`.log`), its signed Merkle checkpoints (:mod:`.checkpoints`, :mod:`.merkle`) and the
audit that re-checks all of it (:mod:`.audit`); :mod:`.bell` tells waiters in this process
that records were committed.

May import: the shared base, ``mailbox.models``, ``mailbox.signing``. Nothing of deliveries,
notifications, identity, the web or the CLI: every other room writes evidence through
:func:`mailbox.evidence.log.append` and friends.
"""
