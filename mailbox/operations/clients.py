"""Managing machine clients, one transaction each: a person registers a client (its JWKS URL,
if any, fetched once first), adds or removes a key, or revokes it. The rules (who may, with
which scopes, what is recorded as evidence) are :mod:`mailbox.identity.clients`'; these are
the use cases the API calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mailbox.identity.clients import ClientView, allowed_registration, register_client
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["change_client", "register"]

REGISTRATION_FIELDS = ("role", "public_key_pem", "office_id", "account_id", "scopes")


async def register(
    services: Services, registrant: Principal, *, jwks_url: str | None = None, **fields: Any
) -> ClientView:
    """The use case of a person registering a client (see :func:`register_client`). A JWKS
    URL is fetched once first, outside the transaction, so that a URL serving no usable key is
    refused with the reason; and only once everything else was checked, so that nobody makes
    the service fetch a URL for a registration it would refuse anyway."""
    if jwks_url is not None:
        async with services.db.session() as session:
            await allowed_registration(
                session,
                jwks_url=jwks_url,
                allow_private_jwks=services.settings.client_jwks_allow_private,
                registrant=registrant,
                **{name: fields.get(name) for name in REGISTRATION_FIELDS},
            )
        await services.jwks.fetch(jwks_url)
    async with services.db.write() as session:
        return await register_client(
            session=session,
            signer=services.evidence,
            registrant=registrant,
            jwks_url=jwks_url,
            allow_private_jwks=services.settings.client_jwks_allow_private,
            **fields,
        )


async def change_client(
    services: Services,
    principal: Principal,
    change: Callable[..., Awaitable[ClientView]],
    **fields: Any,
) -> ClientView:
    """The use case of a person changing a client: :func:`add_key`, :func:`remove_key` or
    :func:`revoke_client` in one transaction, with its evidence."""
    async with services.db.write() as session:
        return await change(
            session=session, signer=services.evidence, principal=principal, **fields
        )
