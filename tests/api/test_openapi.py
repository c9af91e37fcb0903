"""The OpenAPI document is served and complete enough to generate clients from."""

from __future__ import annotations

from httpx import AsyncClient


async def test_openapi_lists_every_api_route_with_its_problems(client: AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/dispatches",
        "/api/v1/dispatches/{delivery_id}",
        "/api/v1/inbox",
        "/api/v1/deliveries/{delivery_id}",
        "/api/v1/deliveries/{delivery_id}/document",
        "/.well-known/jwks.json",
    ):
        assert path in paths, path
    for path, operations in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("4") for s in statuses), (method, path)
            for status, spec_response in operation["responses"].items():
                if status.startswith("4"):
                    content = spec_response["content"]
                    assert "application/problem+json" in content, (method, path, status)
    assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


async def test_jwks_publishes_the_token_key(client: AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys[0]["alg"] == "ES256"
    assert keys[0]["kid"]
