"""Request and response schemas of the JSON API (transport only; the tables are in
``mailbox.models``): :mod:`.deliveries` (tokens, problems, deliveries, dispatch),
:mod:`.accounts` (accounts, notification settings, webhooks).
"""
