"""Published data formats: the office-to-office transmission package (a manifest with a JSON
Schema, and its documents) and the typed data notices offices owe each other (the
national-phase entry notice of PCT Rule 95.1), with their validation
(:mod:`.validation`) and their schemas (``schemas/``, served under ``/schemas/``).

Pure: no database, no web. May import the shared base (``mailbox.errors``) only, so that every
room that reads these formats (dispatch, transmissions, the API) can.
"""
