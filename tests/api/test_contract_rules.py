"""The OpenAPI document states the rules the code enforces, and every route answers alike: 400
for a request that cannot be parsed, 422 for one that breaks a rule, 401 before either when
the token is missing. (Each case below was a finding of the fuzzing run in tests/contract.)"""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from mailbox.notifications.settings import LANGUAGES, MAX_REMINDERS, MODES
from mailbox.notifications.webhooks import EVENT_TYPES
from mailbox.services import Services
from tests.factories import make_world, token_for


def _problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def _spec(client: AsyncClient) -> dict[str, Any]:
    return (await client.get("/schema/openapi.json")).json()


async def test_openapi_states_the_limits_of_each_request_body(client: AsyncClient) -> None:
    schemas = (await _spec(client))["components"]["schemas"]
    patch = schemas["NotificationSettingsPatch"]
    days = patch["properties"]["reminder_days"]["oneOf"][0]
    assert days["maxItems"] == MAX_REMINDERS
    assert (days["items"]["minimum"], days["items"]["maximum"]) == (1, 60)
    assert patch["properties"]["mode"]["oneOf"][0]["enum"] == list(MODES)
    assert patch["properties"]["language"]["oneOf"][0]["enum"] == list(LANGUAGES)
    webhook = schemas["WebhookCreate"]
    assert webhook["oneOf"] == [{"required": ["account_id"]}, {"required": ["office_id"]}]
    assert webhook["properties"]["events"]["items"]["enum"] == list(EVENT_TYPES)
    assert webhook["properties"]["url"]["pattern"].startswith("^https://")
    assert schemas["AddressCreate"]["properties"]["email"]["maxLength"] == 320
    for name in ("NotificationSettingsPatch", "WebhookCreate", "AddressCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    token_form = schemas["TokenForm"]
    assert token_form["properties"]["grant_type"]["enum"] == ["password", "client_credentials"]
    dispatch = schemas["DispatchForm"]
    assert set(dispatch["required"]) == {"file", "kind_code", "dossier_number", "title"}
    # Exactly one recipient: an account, or a postal address (paper, no account).
    assert dispatch["oneOf"] == [
        {"required": ["recipient_account_id"]},
        {"required": ["recipient_postal_address"]},
    ]
    assert dispatch["properties"]["title"]["maxLength"] == 500


async def test_openapi_says_which_routes_need_no_token(client: AsyncClient) -> None:
    paths = (await _spec(client))["paths"]
    for path, method in (
        ("/healthz", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/notification-addresses/verify", "get"),
    ):
        assert paths[path][method]["security"] == [{}], path
    # The document's default: a token. A route machine clients may call names its scope.
    assert "security" not in paths["/api/v1/accounts/{account_id}/notification-settings"]["get"]
    assert paths["/api/v1/inbox"]["get"]["security"] == [
        {"BearerToken": []},
        {"ClientCredentials": ["inbox:read"]},
    ]


async def test_options_allows_every_method_of_the_path(client: AsyncClient) -> None:
    for path, methods in (
        ("/api/v1/accounts/acc_x/consent", "DELETE, OPTIONS, POST"),
        ("/api/v1/accounts/acc_x/notification-settings", "GET, OPTIONS, PATCH"),
        ("/api/v1/webhooks", "GET, OPTIONS, POST"),
        ("/api/v1/webhooks/whk_x", "DELETE, GET, OPTIONS"),
        ("/login", "GET, OPTIONS, POST"),
    ):
        response = await client.options(path)
        assert response.status_code == 204, path
        assert response.headers["allow"] == methods, path


async def test_a_body_that_breaks_a_rule_is_422_on_every_route(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    settings = f"/api/v1/accounts/{world.account.id}/notification-settings"
    wrong_type = await client.patch(settings, headers=owner, json={"reminder_days": "3"})
    unknown = await client.patch(settings, headers=owner, json={"reminders": [3]})
    out_of_range = await client.patch(settings, headers=owner, json={"reminder_days": [0]})
    null_owner = await client.post(
        "/api/v1/webhooks",
        headers=owner,
        json={"url": "https://hooks.example.com/in", "account_id": world.account.id,
              "office_id": None},
    )  # fmt: skip
    for response, field in (
        (wrong_type, "reminder_days"),
        (unknown, "reminders"),
        (out_of_range, "reminder_days"),
        (null_owner, "office_id"),
    ):
        problem = _problem(response, 422)
        assert problem["type"] == "/problems/invalid-request"
        assert [e["field"] for e in problem["errors"]] == [field]
    listed = await client.get("/api/v1/webhooks", headers=await token_for(client, world.applicant))
    assert listed.json()["items"] == []  # nothing was half-written


async def test_a_body_that_cannot_be_parsed_is_400(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    response = await client.patch(
        f"/api/v1/accounts/{world.account.id}/notification-settings",
        headers={**owner, "Content-Type": "application/json"},
        content=b'{"mode": ',
    )
    assert _problem(response, 400)["type"] == "/problems/malformed-request"


async def test_the_token_endpoint_refuses_a_bad_form_with_400_invalid_request(
    client: AsyncClient,
) -> None:
    problem = _problem(await client.post("/api/v1/auth/token", data={"username": "a"}), 400)
    assert problem["error"] == "invalid_request"
    assert [e["field"] for e in problem["errors"]] == ["grant_type"]


async def test_without_a_token_a_bad_body_is_401_not_400_or_422(client: AsyncClient) -> None:
    for response in (
        await client.patch(
            "/api/v1/accounts/acc_x/notification-settings",
            headers={"Content-Type": "application/json"},
            content=b"{not json",
        ),
        await client.post("/api/v1/webhooks", json={"url": 5}),
        await client.get("/api/v1/inbox", params={"limit": 0, "cursor": "!!"}),
    ):
        _problem(response, 401)


async def test_a_bad_cursor_is_refused_even_when_the_list_would_be_empty(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    dispatcher = await token_for(client, world.dispatcher)  # holds no account: empty lists
    for path in ("/api/v1/inbox", "/api/v1/accounts", "/api/v1/webhooks"):
        response = await client.get(path, headers=dispatcher, params={"cursor": "bm90LW91cnM"})
        assert [e["field"] for e in _problem(response, 422)["errors"]] == ["cursor"], path
        first_page = await client.get(path, headers=dispatcher, params={"cursor": ""})
        assert first_page.status_code == 200, path


async def test_an_address_with_white_space_of_any_kind_is_refused_as_the_document_says(
    client: AsyncClient, services: Services
) -> None:
    # The fuzzer found "…\x85…" allowed by the document's pattern (JavaScript's \s) but refused
    # by the service (Python's \s): the pattern now spells the white space out for both.
    world = await make_world(services)
    owner = await token_for(client, world.applicant)
    path = f"/api/v1/accounts/{world.account.id}/notification-addresses"
    pattern = (await _spec(client))["components"]["schemas"]["AddressCreate"]["properties"][
        "email"
    ]["pattern"]
    assert "\\s" not in pattern
    for space in ("\x85", "\x1d", "\ufeff", "\u2003", " "):
        response = await client.post(path, headers=owner, json={"email": f"a{space}b@example.com"})
        assert [e["field"] for e in _problem(response, 422)["errors"]] == ["email"], repr(space)
    accepted = await client.post(path, headers=owner, json={"email": "ünïcode@exämple.de"})
    assert accepted.status_code == 201, accepted.text
