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


async def test_schema_redoc_cdn_without_sri_not_served(client: AsyncClient) -> None:
    """The viewer pages (ReDoc, Swagger UI, ...) load unpinned scripts from a CDN: they are not
    served. The document itself is, as JSON and YAML, and nothing under /schema escapes the
    content security policy."""
    for viewer in ("redoc", "swagger", "elements", "rapidoc", "scalar"):
        response = await client.get(f"/schema/{viewer}")
        assert response.status_code == 404, viewer
        assert "cdn" not in response.text.lower()
    for path in ("/schema", "/schema/openapi.json"):
        document = await client.get(path)
        assert document.status_code == 200
        assert document.json()["openapi"].startswith("3.")
    yaml = await client.get("/schema/openapi.yaml")
    assert yaml.status_code == 200
    assert "openapi:" in yaml.text
    for response in (document, yaml):
        assert "<script" not in response.text
    page = await client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
