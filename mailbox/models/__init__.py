"""Persistence: SQLModel tables. Request and response schemas live in
``mailbox.api.schemas``."""

from mailbox.models.batches import BatchItemStatus, BatchStatus, DispatchBatch, DispatchBatchItem
from mailbox.models.clients import ApiClient, ApiClientKey
from mailbox.models.clock import ClockRuleChoice, Outage
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
from mailbox.models.paper import PaperLetter, PrintBatch, RetrievalCode
from mailbox.models.parties import (
    Account,
    Grant,
    NotificationAddress,
    Office,
    Role,
    User,
)
from mailbox.models.retention import ANY_KIND, RetentionPolicy
from mailbox.models.second_factor import RecoveryCode, UserTotp
from mailbox.models.throttle import (
    ClientAssertionUse,
    LoginFailure,
    RetrievalFailure,
    RevokedToken,
    VerificationEmailSent,
)
from mailbox.models.transmissions import (
    ExpectedItem,
    ForwardingRule,
    ForwardMode,
    HopStatus,
    Transmission,
    TransmissionDocument,
    TransmissionHop,
)

__all__ = [
    "ANY_KIND",
    "Account",
    "ApiClient",
    "ApiClientKey",
    "BatchItemStatus",
    "BatchStatus",
    "Channel",
    "ClientAssertionUse",
    "ClockRuleChoice",
    "Delivery",
    "DeliveryStatus",
    "DispatchBatch",
    "DispatchBatchItem",
    "Document",
    "EvidenceCheckpoint",
    "EvidenceHead",
    "EvidenceRecord",
    "ExpectedItem",
    "ForwardMode",
    "ForwardingRule",
    "Grant",
    "HopStatus",
    "IdempotencyRecord",
    "LoginFailure",
    "NotificationAddress",
    "Office",
    "Outage",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "PaperLetter",
    "PrintBatch",
    "RecoveryCode",
    "RetentionPolicy",
    "RetrievalCode",
    "RetrievalFailure",
    "RevokedToken",
    "Role",
    "Transmission",
    "TransmissionDocument",
    "TransmissionHop",
    "User",
    "UserTotp",
    "VerificationEmailSent",
    "WebhookAttempt",
    "WebhookSubscription",
]
