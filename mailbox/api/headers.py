"""Security headers on every answer: no content sniffing, no referrer, no framing; a content
security policy for the HTML pages; HSTS when the service is published over https; and no
caching of pages, which show personal data."""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mailbox.config import Settings

__all__ = ["CONTENT_SECURITY_POLICY", "security_headers"]

# The pages carry no script at all; their styles are one inline <style> block and a few
# style attributes, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'"
)
_HSTS = "max-age=31536000; includeSubDomains"

Headers = list[tuple[bytes, bytes]]


def _answer_headers(settings: Settings) -> Callable[[str, Headers], Headers]:
    """The function adding this install's security headers to an answer for ``path``."""
    every = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.public_base_url.lower().startswith("https://"):
        every.append((b"strict-transport-security", _HSTS.encode()))

    def add(path: str, headers: Headers) -> Headers:
        present = {name.lower() for name, _ in headers}
        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        extra = list(every)
        if content_type.lower().startswith(b"text/html"):
            extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
            extra.append((b"cache-control", b"no-store"))
        return headers + [(name, value) for name, value in extra if name not in present]

    return add


def security_headers(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """A middleware factory adding the security headers to every HTTP answer."""
    add = _answer_headers(settings)

    def middleware(app: ASGIApp) -> ASGIApp:
        async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope["path"]

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": add(path, list(message.get("headers", [])))}
                await send(message)

            await app(scope, receive, send_with_headers)

        return with_headers

    return middleware
