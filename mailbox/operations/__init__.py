"""Operations: running one install of the service: setting it up (:mod:`.setup`), the periodic
jobs and the worker (:mod:`.scheduling`) with the one-scheduler-per-SQLite-file lock
(:mod:`.scheduler_lock`), readiness checks and the database figures of the metrics
(:mod:`.health`), backups and their restore (:mod:`.backup`), demo data (:mod:`.demo`),
time travel of demo and test installs (:mod:`.time_travel`), and the use cases of managing
machine clients (:mod:`.clients`).

May import: every domain room (it wires them together). Only ``mailbox.api`` and
``mailbox.cli`` import it.
"""
