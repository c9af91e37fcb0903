"""Identity: who is calling and what they may do.

- :mod:`.principal`: the principal behind a request (a user with grants, or a machine client).
- :mod:`.auth`: passwords (argon2) and access tokens (JWT); :mod:`.clients`: machine clients
  (``private_key_jwt``).
- :mod:`.accounts`: the accounts a user acts for; :mod:`.admin`: creating offices, accounts,
  users and grants.

May import: the shared base, ``mailbox.models`` and ``mailbox.signing``. Nothing of the other
rooms: they all ask this one.
"""
