"""The notification settings pages over HTTP, as a browser's forms post them: each change is one
form with the session's form token answered by a redirect back to the page, a post without
that token (or with another session's) changes nothing, domain errors are shown beside their
fields, and only owners see forms. The JSON API, called with bearer tokens, needs no form token.
The same pages in a real browser are in tests/e2e/test_settings_pages.py."""

from __future__ import annotations

import re

from httpx import AsyncClient, Response
from sqlmodel import col, select

from mailbox.identity.admin import grant_role
from mailbox.models import Account, NotificationAddress, OutboxMessage, Role, User
from mailbox.services import Services
from tests.factories import add_member, log_in_page, make_world, token_for

FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]*)"')
REFUSED = "This form has expired or did not come from this site"


def page_of(account_id: str) -> str:
    return f"/accounts/{account_id}/settings"


async def log_in(client: AsyncClient, user: User) -> None:
    await log_in_page(client, user)


async def form_token(client: AsyncClient, account_id: str) -> str:
    """The form token on the account's settings page, as the browser would post it."""
    page = await client.get(page_of(account_id))
    assert page.status_code == 200, page.text
    tokens = set(FORM_TOKEN.findall(page.text))
    assert len(tokens) == 1 and "" not in tokens, tokens
    return tokens.pop()


async def post_form(
    client: AsyncClient, account_id: str, action: str, **fields: str
) -> tuple[Response, str | None]:
    """Post one of the page's forms with the page's token; return the answer and, after a
    redirect, the page it leads to."""
    token = await form_token(client, account_id)
    response = await client.post(
        f"{page_of(account_id)}/{action}", data={**fields, "csrf_token": token}
    )
    if response.status_code != 303:
        return response, None
    assert response.headers["location"].startswith(page_of(account_id) + "?done=")
    after = await client.get(response.headers["location"])
    assert after.status_code == 200, after.text
    return response, after.text


async def account_row(services: Services, account_id: str) -> Account:
    async with services.db.session() as session:
        account = await session.get(Account, account_id)
    assert account is not None
    return account


async def test_owner_sees_status_addresses_and_alert_settings(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    page = await client.get(page_of(world.account.id))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<strong>Active.</strong>" in page.text
    assert re.search(r"applicant@example.com</td>\s*<td class=\"state\">verified", page.text)
    assert "Withdrawing consent means documents are served on paper" in page.text
    assert f'action="{page_of(world.account.id)}/consent/withdraw"' in page.text
    assert 'value="3, 7"' in page.text  # the service default reminder days
    assert 'href="/settings">Notification settings</a>' in page.text


async def test_post_without_form_token_is_refused_and_changes_nothing(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    for data in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64}, {"csrf_token": "é"}):
        refused = await client.post(f"{page_of(world.account.id)}/consent/withdraw", data=data)
        assert refused.status_code == 403, data
        assert refused.headers["content-type"].startswith("text/html")
        assert REFUSED in refused.text

    account = await account_row(services, world.account.id)
    assert account.edelivery_consent_at is not None
    assert account.edelivery_active


async def test_form_token_of_an_earlier_session_is_refused(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)
    earlier = await form_token(client, world.account.id)

    await log_in(client, world.applicant)  # a new session, say in another tab
    refused = await client.post(
        f"{page_of(world.account.id)}/alerts",
        data={"mode": "digest", "reminder_days": "", "language": "en", "csrf_token": earlier},
    )

    assert refused.status_code == 403
    assert (await account_row(services, world.account.id)).notify_mode == "immediate"
    assert await form_token(client, world.account.id) != earlier


async def test_withdraw_then_give_consent_redirects_back_with_the_new_status(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    withdrawn, page = await post_form(client, world.account.id, "consent/withdraw")
    assert withdrawn.status_code == 303
    assert page is not None
    assert "<strong>Inactive.</strong> Documents are served on paper by post" in page
    assert "no owner has consented" in page
    assert "Consent withdrawn" in page
    assert not (await account_row(services, world.account.id)).edelivery_active

    given, page = await post_form(client, world.account.id, "consent")
    assert given.status_code == 303
    assert page is not None and "<strong>Active.</strong>" in page
    assert (await account_row(services, world.account.id)).edelivery_active


async def test_suspension_is_explained_and_lifted_by_giving_consent_again(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    async with services.db.write() as session:
        account = await session.get(Account, world.account.id)
        assert account is not None
        account.edelivery_suspended_reason = "notifications fail permanently: hard bounce"
        session.add(account)
    await log_in(client, world.applicant)

    page = (await client.get(page_of(world.account.id))).text
    assert "<strong>Suspended.</strong>" in page
    assert "(notifications fail permanently: hard bounce)" in page
    assert f'action="{page_of(world.account.id)}/consent"' in page

    given, page_after = await post_form(client, world.account.id, "consent")
    assert given.status_code == 303
    assert page_after is not None and "<strong>Active.</strong>" in page_after
    assert (await account_row(services, world.account.id)).edelivery_suspended_reason is None


async def test_alert_settings_are_saved_and_shown(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    saved, page = await post_form(
        client, world.account.id, "alerts", mode="digest", reminder_days="7, 2,2 ", language="fr"
    )

    assert saved.status_code == 303
    account = await account_row(services, world.account.id)
    assert (account.notify_mode, account.reminder_days, account.language) == (
        "digest",
        [2, 7],
        "fr",
    )
    assert page is not None
    assert 'value="2, 7"' in page
    assert re.search(r'value="digest"\s+checked', page)
    assert re.search(r'value="fr"\s+selected', page)

    cleared, _ = await post_form(
        client, world.account.id, "alerts", mode="digest", reminder_days=" ", language="fr"
    )
    assert cleared.status_code == 303
    assert (await account_row(services, world.account.id)).reminder_days == []


async def test_bad_alert_values_show_every_field_error_and_keep_what_was_typed(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    refused, _ = await post_form(
        client, world.account.id, "alerts", mode="weekly", reminder_days="0, 99", language="de"
    )

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    for field_id in ("mode-error", "reminder-days-error", "language-error"):
        assert f'id="{field_id}"' in refused.text
    assert "each day must be 1..60" in refused.text
    assert 'value="0, 99"' in refused.text
    assert "Traceback" not in refused.text
    account = await account_row(services, world.account.id)
    assert (account.notify_mode, account.reminder_days, account.language) == (
        "immediate",
        None,
        "en",
    )

    words, _ = await post_form(
        client, world.account.id, "alerts", mode="digest", reminder_days="3, seven", language="en"
    )
    assert words.status_code == 422
    assert "write whole days separated by commas" in words.text
    assert (await account_row(services, world.account.id)).notify_mode == "immediate"


async def test_add_resend_and_remove_an_address_through_the_forms(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    added, page = await post_form(client, world.account.id, "addresses", email=" New@Example.com")
    assert added.status_code == 303
    assert page is not None
    assert re.search(r"new@example.com</td>\s*<td class=\"state\">pending", page)
    async with services.db.session() as session:
        address = (
            await session.exec(
                select(NotificationAddress).where(NotificationAddress.email == "new@example.com")
            )
        ).one()
        first_hash = address.verify_token_hash

    resent, page = await post_form(client, world.account.id, f"addresses/{address.id}/resend")
    assert resent.status_code == 303
    assert page is not None and "A new verification link was emailed" in page
    async with services.db.session() as session:
        emails = (
            await session.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.kind) == "email.verify_address",
                    col(OutboxMessage.account_id) == world.account.id,
                )
            )
        ).all()
        resent_address = await session.get(NotificationAddress, address.id)
    assert len(emails) == 2
    assert resent_address is not None and resent_address.verify_token_hash != first_hash

    removed, page = await post_form(client, world.account.id, f"addresses/{address.id}/remove")
    assert removed.status_code == 303
    assert page is not None and "new@example.com" not in page


async def test_bad_or_repeated_address_is_shown_on_the_page(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    bad, _ = await post_form(client, world.account.id, "addresses", email="not an address")
    assert bad.status_code == 422
    assert re.search(r'id="email-error">not an email address<', bad.text)
    assert 'value="not an address"' in bad.text

    repeated, _ = await post_form(
        client, world.account.id, "addresses", email="applicant@example.com"
    )
    assert repeated.status_code == 409
    assert 'id="addresses-error"' in repeated.text
    assert "already an address of this account" in repeated.text


async def test_viewer_reads_the_settings_without_forms_and_cannot_change_them(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    viewer = await add_member(services, world.account, Role.VIEWER)
    await log_in(client, viewer)

    page = await client.get(page_of(world.account.id))
    assert page.status_code == 200
    assert 'id="read-only"' in page.text
    assert "applicant@example.com" in page.text
    assert f'action="{page_of(world.account.id)}' not in page.text

    token = FORM_TOKEN.search(page.text)  # the log-out form's
    assert token is not None
    refused = await client.post(
        f"{page_of(world.account.id)}/consent/withdraw", data={"csrf_token": token.group(1)}
    )
    assert refused.status_code == 403
    assert "Only an owner of account" in refused.text
    assert (await account_row(services, world.account.id)).edelivery_active


async def test_users_without_a_grant_get_a_not_found_page(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    for user in (world.auditor, world.stranger):
        await log_in(client, user)
        page = await client.get(page_of(world.account.id))
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert f"No account {world.account.id}" in page.text


async def test_visitors_without_a_session_are_sent_to_log_in(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)

    page = await client.get(page_of(world.account.id))
    posted = await client.post(f"{page_of(world.account.id)}/consent/withdraw", data={})

    assert page.status_code == 302 and page.headers["location"] == "/login"
    assert posted.status_code == 303 and posted.headers["location"] == "/login"
    assert (await account_row(services, world.account.id)).edelivery_active


async def test_settings_link_leads_to_the_only_account_or_lists_several(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    only = await client.get("/settings")
    assert only.status_code == 302
    assert only.headers["location"] == page_of(world.account.id)

    async with services.db.write() as session:
        await grant_role(
            session=session,
            user_id=world.applicant.id,
            role=Role.VIEWER,
            account_id=world.other_account.id,
        )
    listed = await client.get("/settings")
    assert listed.status_code == 200
    for account in (world.account, world.other_account):
        assert f'href="{page_of(account.id)}">{account.name}</a>' in listed.text


async def test_log_out_needs_the_form_token(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    await log_in(client, world.applicant)

    refused = await client.post("/logout", data={})
    assert refused.status_code == 403
    assert (await client.get("/inbox")).status_code == 200  # still logged in

    token = await form_token(client, world.account.id)
    logged_out = await client.post("/logout", data={"csrf_token": token})
    assert logged_out.status_code == 303
    assert (await client.get("/inbox")).headers.get("location") == "/login"


async def test_api_with_a_bearer_token_needs_no_form_token(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    owner = await token_for(client, world.applicant)

    changed = await client.patch(
        f"/api/v1/accounts/{world.account.id}/notification-settings",
        headers=owner,
        json={"mode": "digest"},
    )
    withdrawn = await client.delete(f"/api/v1/accounts/{world.account.id}/consent", headers=owner)

    assert changed.status_code == 200, changed.text
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["edelivery_status"] == "inactive"
