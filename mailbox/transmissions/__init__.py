"""Office-to-office transmissions: the package format (a manifest with a published JSON Schema
and its documents), the typed data notices offices owe each other (the national-phase entry
notice of PCT Rule 95.1), and their validation.

Pure: no database, no web. May import the shared base (``mailbox.errors``) and
``mailbox.signing`` (detached seals over data documents).
"""
