"""A hub's coverage: the list of items it expects from the offices that owe it (uploaded by its
dispatchers), the report of what arrived on time, late or not at all (read by its dispatchers
and auditors, as JSON or CSV), and reminders to the offices that are behind (its
dispatchers). Who does not see the hub is told it does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import Parameter

from mailbox.api.problems import problem_responses
from mailbox.api.schemas.coverage import CoveragePublic, ExpectedUploadPublic, RemindersPublic
from mailbox.coverage.expected import COLUMNS
from mailbox.coverage.hub import hub_coverage, hub_reminders, hub_upload
from mailbox.coverage.report import CSV_COLUMNS, coverage_csv
from mailbox.errors import FieldError, InvalidRequest
from mailbox.identity.principal import Principal
from mailbox.services import Services

__all__ = ["routes"]

TAGS = ["coverage"]
PATH = "/api/v1/offices/{office_code:str}"
OfficeCode = Annotated[str, Parameter(description="The hub office's code, e.g. IB.", max_length=16)]
From = Annotated[
    str | None,
    Parameter(
        query="from",
        description="First due day of the period (YYYY-MM-DD); the current month without it.",
        max_length=10,
    ),
]
To = Annotated[
    str | None,
    Parameter(
        query="to",
        description="Last due day of the period (YYYY-MM-DD), at most a year after `from`.",
        max_length=10,
    ),
]
Sender = Annotated[
    str | None,
    Parameter(description="Only the items of this sending office (its code).", max_length=16),
]
CSV = "text/csv"


@dataclass
class _ListUpload(Operation):
    """The list is read as the raw body, CSV or JSON lines: its forms are stated here."""

    def __post_init__(self) -> None:
        line = f"One item per line with {', '.join(COLUMNS)}."
        self.request_body = RequestBody(
            content={
                CSV: OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.STRING, description=f"A header line, then {line}"
                    ),
                    example=(
                        f"{','.join(COLUMNS)}\r\nEP,national-phase-entry,PCT/EP2026/012345,"
                        "2026-12-15\r\n"
                    ),
                ),
                "application/x-ndjson": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description=f"JSON lines. {line}"),
                ),
            },
            required=True,
            description="The items the hub expects; a re-upload of an item changes its due date.",
        )


@dataclass
class _ReportOrCsv(Operation):
    """The report is also CSV (`format=csv` or `Accept: text/csv`)."""

    def __post_init__(self) -> None:
        table = OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.STRING,
                description=f"One row per expected item; header: {','.join(CSV_COLUMNS)}.",
            )
        )
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.content = {**(ok.content or {}), CSV: table}


@put(
    f"{PATH}/expected-items",
    tags=TAGS,
    summary="Upload the list of items the hub expects from sending offices",
    operation_class=_ListUpload,
    responses=problem_responses(
        401,
        403,
        404,
        details={
            403: "You see the hub (an auditor) but only its dispatchers upload its list.",
            404: "No office with that code that you belong to.",
            422: "The list is not CSV or JSON lines (`Content-Type`), or lines are bad: "
            "`errors` names each line and field (`line 7: due_on`). Nothing was saved.",
        },
    ),
)
async def upload_expected_items(
    office_code: OfficeCode, request: Request, principal: Principal, services: Services
) -> ExpectedUploadPublic:
    """Each line names the sending office's code, the kind of item (the kind code of the
    document that brings it, e.g. `national-phase-entry`), the international application
    number and the due date (a day in the hub's time zone). All lines are saved, or none."""
    hub, counts = await hub_upload(
        services,
        principal,
        office_code=office_code,
        body=await request.body(),
        media_type=request.headers.get("content-type", ""),
    )
    return ExpectedUploadPublic.of(hub.code, counts)


@get(
    f"{PATH}/coverage",
    tags=TAGS,
    summary="What the hub expected in a period: on time, late, missing, pending",
    operation_class=_ReportOrCsv,
    responses={
        200: ResponseSpec(CoveragePublic, description="The report (JSON, or CSV)."),
        **problem_responses(
            401,
            404,
            details={
                404: "No office with that code that you belong to.",
                422: "`from` or `to` is not a date, `from` is after `to`, the period is longer "
                "than a year, `sender` is not an office code or `format` not json or csv.",
            },
        ),
    },
)
async def read_coverage(
    office_code: OfficeCode,
    request: Request,
    principal: Principal,
    services: Services,
    period_from: From = None,
    period_to: To = None,
    sender: Sender = None,
    format: Annotated[
        str | None, Parameter(description="`json` (default) or `csv`.", max_length=8)
    ] = None,
) -> Response[CoveragePublic | str]:
    """Each expected item due in the period (days in the hub's time zone, both included) is
    `on_time` when it reached the hub's mailbox before the end of its due day there, `late`
    when after, `missing` when not received and its due day is over, `pending` when not yet
    due; with the delivery that brought it. `senders` counts each office's items by class;
    `unexpected` lists what reached the mailbox in the period without being expected."""
    report = await hub_coverage(
        services,
        principal,
        office_code=office_code,
        period_from=period_from,
        period_to=period_to,
        sender=sender,
    )
    if format not in (None, "", "json", "csv"):
        raise InvalidRequest("Unknown format", errors=[FieldError("format", "json or csv")])
    wants_csv = format == "csv" or (
        not format and request.headers.get("accept", "").split(",")[0].strip().startswith(CSV)
    )
    if wants_csv:
        name = f"coverage-{report.hub.code}-{report.period_from}-{report.period_to}.csv"
        return Response(
            coverage_csv(report),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(CoveragePublic.of(report))


@post(
    f"{PATH}/coverage/reminders",
    tags=TAGS,
    summary="Remind the sending offices with late or missing items",
    status_code=200,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        details={
            403: "You see the hub (an auditor) but only its dispatchers send reminders.",
            404: "No office with that code that you belong to.",
            409: "Another call is reminding the same offices right now; try again.",
            422: "`from` or `to` is not a date, `from` is after `to`, the period is longer "
            "than a year, or `sender` is not an office code.",
        },
    ),
)
async def send_coverage_reminders(
    office_code: OfficeCode,
    principal: Principal,
    services: Services,
    period_from: From = None,
    period_to: To = None,
    sender: Sender = None,
) -> RemindersPublic:
    """One email to each sending office with late or missing items of the period (the current
    month without one) not reminded today, listing them in the words of the report, to the
    verified notification addresses of the office's mailbox. An office without a mailbox or
    a verified address is listed under `cannot_be_reminded` and nothing is sent to it. A
    second call the same day sends nothing about items already reminded."""
    report, round_ = await hub_reminders(
        services,
        principal,
        office_code=office_code,
        period_from=period_from,
        period_to=period_to,
        sender=sender,
    )
    return RemindersPublic.of(report, round_)


routes = [upload_expected_items, read_coverage, send_coverage_reminders]
