"""Transport for notices: render email templates, send email (a :class:`Transport`: SMTP or a
pickup directory), post signed webhooks (to public addresses only).

Every send reports a :class:`SendOutcome` that says whether a failure is worth retrying and
whether it is ours (our server, session or disk) or the recipient's. This package knows nothing
of deliveries or accounts and imports nothing from ``mailbox``.
"""

from notifier.email import (
    SmtpSettings,
    SmtpTransport,
    send_batch,
    send_batches_parallel,
)
from notifier.failures import SendOutcome, classify_http_status, classify_smtp_error
from notifier.message import EmailMessage
from notifier.pickup_dir import PickupDirectory
from notifier.render import RenderedEmail, TemplateRenderer
from notifier.targets import address_problem, host_problem, public_only_transport
from notifier.transport import Transport
from notifier.webhook import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TARGET_NOT_ALLOWED,
    post_webhook,
    sign_payload,
    verify_signature,
)

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TARGET_NOT_ALLOWED",
    "EmailMessage",
    "PickupDirectory",
    "RenderedEmail",
    "SendOutcome",
    "SmtpSettings",
    "SmtpTransport",
    "TemplateRenderer",
    "Transport",
    "address_problem",
    "classify_http_status",
    "classify_smtp_error",
    "host_problem",
    "post_webhook",
    "public_only_transport",
    "send_batch",
    "send_batches_parallel",
    "sign_payload",
    "verify_signature",
]
