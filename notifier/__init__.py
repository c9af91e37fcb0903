"""Transport for notices: render email templates, send email over SMTP, post signed webhooks.

Every send reports a :class:`SendOutcome` that says whether a failure is worth retrying. This
package knows nothing of deliveries or accounts and imports nothing from ``mailbox``.
"""

from notifier.email import (
    EmailMessage,
    SmtpSettings,
    send_batch,
    send_batches_parallel,
)
from notifier.failures import SendOutcome, classify_http_status, classify_smtp_error
from notifier.render import RenderedEmail, TemplateRenderer
from notifier.webhook import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    post_webhook,
    sign_payload,
    verify_signature,
)

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "EmailMessage",
    "RenderedEmail",
    "SendOutcome",
    "SmtpSettings",
    "TemplateRenderer",
    "classify_http_status",
    "classify_smtp_error",
    "post_webhook",
    "send_batch",
    "send_batches_parallel",
    "sign_payload",
    "verify_signature",
]
