"""Persistence: SQLModel tables. Request and response schemas live in
``mailbox.api.schemas``."""

from mailbox.models.clients import ApiClient
from mailbox.models.deliveries import Delivery, DeliveryStatus, Document
from mailbox.models.evidence import EvidenceCheckpoint, EvidenceHead, EvidenceRecord
from mailbox.models.outbox import (
    Channel,
    IdempotencyRecord,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    WebhookAttempt,
    WebhookSubscription,
)
from mailbox.models.parties import (
    Account,
    Grant,
    NotificationAddress,
    Office,
    Role,
    User,
)

__all__ = [
    "Account",
    "ApiClient",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "Document",
    "EvidenceCheckpoint",
    "EvidenceHead",
    "EvidenceRecord",
    "Grant",
    "IdempotencyRecord",
    "NotificationAddress",
    "Office",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "Role",
    "User",
    "WebhookAttempt",
    "WebhookSubscription",
]
