"""How a web log-in ends: the session cookie, and the second-factor step in between.

After the right password, :func:`after_password` either opens the session (no second factor,
or a device remembered for the one in force) or keeps the half-finished log-in in a short-lived
signed cookie (:data:`PENDING_COOKIE`, good for the second-factor pages only, never a session)
and sends the browser to ``/login/second-factor``: a code to answer, or, for dispatchers and
auditors without a second factor, its enrolment. A remembered device is a signed cookie
(:data:`DEVICE_COOKIE`) naming the account and its enrolment, so it is forgotten when the
second factor is turned off or set up again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response
from litestar.response import Redirect

from mailbox.api.security import SESSION_COOKIE
from mailbox.identity.second_factor import Need, need_after_password
from mailbox.identity.signed_values import SignedValues
from mailbox.models import User
from mailbox.services import Services

__all__ = [
    "DEVICE_COOKIE",
    "PENDING_COOKIE",
    "after_password",
    "forget_pending",
    "open_session",
    "pending_epoch",
    "pending_user",
    "remember_device",
    "signed_values",
]

PENDING_COOKIE = "mailbox_login_step"
DEVICE_COOKIE = "mailbox_device"
PENDING = "login-second-factor"
DEVICE = "remembered-device"
PENDING_LIFETIME = timedelta(minutes=10)
DEVICE_LIFETIME = timedelta(days=30)


def signed_values(services: Services) -> SignedValues:
    """The signer of the log-in cookies (its key derived from the token key)."""
    return SignedValues(services.tokens.derived_key(b"mailbox web log-in cookies v1"))


def _secure(services: Services) -> bool:
    return services.settings.public_base_url.startswith("https")


def _set(response: Response[Any], services: Services, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name, value, max_age=age, httponly=True, samesite="strict", secure=_secure(services)
    )


def open_session(
    response: Response[Any], services: Services, user_id: str, epoch: int
) -> Response[Any]:
    """Start the web session of ``user_id`` on ``response``: a new access token of the user's
    credentials ``epoch`` in the session cookie (a later password change ends it)."""
    token = services.tokens.issue(user_id, epoch=epoch)
    _set(response, services, SESSION_COOKIE, token.token, token.expires_in)
    return response


def forget_pending(response: Response[Any]) -> Response[Any]:
    response.delete_cookie(PENDING_COOKIE)
    return response


def pending_user(request: Request[Any, Any, Any], services: Services) -> str | None:
    """The user whose log-in waits for its second factor in this browser, or None."""
    payload = signed_values(services).read(PENDING, request.cookies.get(PENDING_COOKIE))
    subject = payload.get("sub") if payload else None
    return subject if isinstance(subject, str) else None


def pending_epoch(request: Request[Any, Any, Any], services: Services) -> int:
    """The credentials epoch of the user whose log-in waits for its second factor (the session
    opened after it belongs to the password that was given)."""
    payload = signed_values(services).read(PENDING, request.cookies.get(PENDING_COOKIE))
    epoch = payload.get("epoch") if payload else None
    return epoch if isinstance(epoch, int) else 0


def remember_device(response: Response[Any], services: Services, user_id: str, enrolment: str):
    """Let this browser skip the code of ``user_id`` for 30 days, while ``enrolment`` is in
    force."""
    value = signed_values(services).make(
        DEVICE, {"sub": user_id, "tfa": enrolment}, lifetime=DEVICE_LIFETIME
    )
    _set(response, services, DEVICE_COOKIE, value, int(DEVICE_LIFETIME.total_seconds()))


def remembered_enrolment(request: Request[Any, Any, Any], services: Services, user_id: str):
    """The enrolment this browser was remembered for by ``user_id``, or None."""
    payload = signed_values(services).read(DEVICE, request.cookies.get(DEVICE_COOKIE))
    return payload.get("tfa") if payload and payload.get("sub") == user_id else None


async def after_password(
    request: Request[Any, Any, Any], services: Services, user: User
) -> Response[Any]:
    """The answer to a right password: the session, or the second-factor step."""
    need = await need_after_password(
        services.db, user.id, remembered_enrolment=remembered_enrolment(request, services, user.id)
    )
    if need is Need.NONE:
        return forget_pending(
            open_session(
                Redirect("/inbox", status_code=303), services, user.id, user.credentials_epoch
            )
        )
    response = Redirect("/login/second-factor", status_code=303)
    response.delete_cookie(SESSION_COOKIE)  # nobody's session until the second factor
    pending = signed_values(services).make(
        PENDING, {"sub": user.id, "epoch": user.credentials_epoch}, lifetime=PENDING_LIFETIME
    )
    _set(response, services, PENDING_COOKIE, pending, int(PENDING_LIFETIME.total_seconds()))
    return response
