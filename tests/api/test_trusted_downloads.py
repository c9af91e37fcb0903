"""Downloads a client can trust: every download names its digest (ETag, Repr-Digest, RFC
9530), a current copy gets 304, a large document comes in byte ranges (206, 416 beyond the
end), and a pickup is recorded once however the bytes were fetched."""

from __future__ import annotations

import base64
import hashlib

from httpx import AsyncClient, Response
from sqlmodel import select

from mailbox.models import EvidenceRecord
from mailbox.services import Services
from tests.factories import deliver, make_world, token_for


def _repr_digest(response: Response) -> bytes:
    value = response.headers["repr-digest"]
    assert value.startswith("sha-256=:") and value.endswith(":")
    return base64.b64decode(value.removeprefix("sha-256=:")[:-1])


async def _pickups(services: Services, delivery_id: str) -> list[EvidenceRecord]:
    async with services.db.session() as session:
        records = (
            await session.exec(
                select(EvidenceRecord)
                .where(EvidenceRecord.delivery_id == delivery_id)
                .order_by(EvidenceRecord.seq)
            )
        ).all()
    return [r for r in records if r.type in ("ContentHandover", "ContentAccess")]


async def test_a_document_fetched_in_ranges_matches_its_digest_and_is_picked_up_once(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    delivery = await deliver(services, world)
    url = f"/api/v1/deliveries/{delivery.id}/document"
    first = await client.get(url, headers={**headers, "Range": "bytes=0-99"})
    assert first.status_code == 206, first.text
    assert len(first.content) == 100
    size = int(first.headers["content-range"].rpartition("/")[2])
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.headers["x-evidence-type"] == "ContentHandover"
    part = base64.b64encode(hashlib.sha256(first.content).digest()).decode()
    assert first.headers["content-digest"] == f"sha-256=:{part}:"
    rest = await client.get(
        url, headers={**headers, "Range": "bytes=100-", "If-Range": first.headers["etag"]}
    )
    assert rest.status_code == 206
    assert rest.headers["x-evidence-type"] == "ContentAccess"
    assert rest.headers["etag"] == first.headers["etag"]
    received = first.content + rest.content
    assert len(received) == size
    # The client checks what it assembled against the digest of the whole document.
    assert hashlib.sha256(received).digest() == _repr_digest(first) == _repr_digest(rest)
    assert first.headers["etag"] == f'"{hashlib.sha256(received).hexdigest()}"'
    handover, access = await _pickups(services, delivery.id)
    assert handover.type == "ContentHandover"
    assert handover.details["range"] == f"bytes 0-99/{size}"
    assert handover.details["range_sha256"] == hashlib.sha256(first.content).hexdigest()
    assert handover.sealed_sha256 == hashlib.sha256(received).hexdigest()
    assert access.type == "ContentAccess"
    assert access.details["range"] == f"bytes 100-{size - 1}/{size}"
    # The last bytes, by suffix.
    tail = await client.get(url, headers={**headers, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == received[-10:]


async def test_a_whole_download_carries_its_digest_and_a_current_copy_gets_304(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    delivery = await deliver(services, world)
    url = f"/api/v1/deliveries/{delivery.id}/document"
    whole = await client.get(url, headers=headers)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).digest() == _repr_digest(whole)
    assert whole.headers["accept-ranges"] == "bytes"
    current = await client.get(url, headers={**headers, "If-None-Match": whole.headers["etag"]})
    assert current.status_code == 304
    assert current.content == b""
    assert current.headers["etag"] == whole.headers["etag"]
    assert len(await _pickups(services, delivery.id)) == 1  # the 304 served and recorded nothing
    other = await client.get(url, headers={**headers, "If-None-Match": '"' + "0" * 64 + '"'})
    assert other.status_code == 200 and other.content == whole.content
    # An If-Range naming another version: the whole document, not the range.
    stale = await client.get(
        url, headers={**headers, "Range": "bytes=0-9", "If-Range": '"' + "1" * 64 + '"'}
    )
    assert stale.status_code == 200 and stale.content == whole.content
    # Several ranges are not served as ranges: the whole document.
    several = await client.get(url, headers={**headers, "Range": "bytes=0-9,20-29"})
    assert several.status_code == 200 and len(several.content) == len(whole.content)


async def test_a_range_beyond_the_end_is_416_and_records_nothing(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.applicant)
    delivery = await deliver(services, world)
    url = f"/api/v1/deliveries/{delivery.id}/document"
    beyond = await client.get(url, headers={**headers, "Range": "bytes=999999999-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-type"].startswith("application/problem+json")
    assert beyond.json()["type"] == "/problems/range-not-satisfiable"
    assert beyond.headers["content-range"].startswith("bytes */")
    assert await _pickups(services, delivery.id) == []
    # Someone else asking for a range is told the delivery does not exist.
    stranger = await token_for(client, world.stranger)
    hidden = await client.get(url, headers={**stranger, "Range": "bytes=0-9"})
    assert hidden.status_code == 404


async def test_a_proof_bundle_carries_the_digest_of_its_bytes(
    client: AsyncClient, services: Services
) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.auditor)
    delivery = await deliver(services, world)
    bundle = await client.get(f"/api/v1/deliveries/{delivery.id}/proof", headers=headers)
    assert bundle.status_code == 200
    assert hashlib.sha256(bundle.content).digest() == _repr_digest(bundle)
    assert bundle.headers["etag"] == f'"{hashlib.sha256(bundle.content).hexdigest()}"'
