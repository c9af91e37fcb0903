"""The reference client: what an applicant's or an office's own system does with the public API.

``python -m mailbox.client sync --to DIR`` keeps a folder in step with an inbox: it follows the
event feed from a stored cursor, downloads each document once, checks the digest the service
announced and the seal against the service's root certificate, and writes the verified proof
bundle beside it. ``python -m mailbox.client push DIR --manifest M.csv`` dispatches a folder.

It talks to the service over HTTP only, as any other system would, logging in with
``private_key_jwt`` from a key file. May import: :mod:`mailbox.proof` (the offline proof check,
which needs no service), nothing else of the service.
"""
