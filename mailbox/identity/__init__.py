"""Identity: who is calling and what they may do.

- :mod:`.principal`: the principal behind a request (a user with grants, or a machine client).
- :mod:`.policy`: the one access policy, a table of who may do what and the named questions
  computed from it (``can_read_delivery``, ``can_pick_up``, ``can_manage``, ...). Every room
  asks it; nobody else reads a principal's roles to decide.
- :mod:`.auth`: passwords (argon2) and access tokens (JWT); :mod:`.clients`: machine clients
  (``private_key_jwt``); :mod:`.passwords`: the rule new passwords meet; :mod:`.sessions`:
  log-out and password change, which end tokens early; :mod:`.throttle`: log-in limits.
- :mod:`.second_factor`: two-step log-in (TOTP and recovery codes, its own throttle);
  :mod:`.signed_values`: the signed values a browser keeps for us (a half-finished log-in, a
  remembered device).
- :mod:`.accounts`: the accounts a user acts for; :mod:`.admin`: creating offices, accounts,
  users and grants.

May import: the shared base, ``mailbox.models`` and ``mailbox.signing``. Nothing of the other
rooms: they all ask this one.
"""
