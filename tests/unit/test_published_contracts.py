"""The committed contracts (OpenAPI, AsyncAPI, JSON Schemas) are what the code publishes."""

from services.published import CONTRACTS, documents


def test_committed_contract_files_match_the_code() -> None:
    drifted = [
        path
        for path, text in documents().items()
        if not (CONTRACTS / path).exists() or (CONTRACTS / path).read_text() != text
    ]
    assert not drifted, (
        f"contracts drifted from the code: {drifted}; run `make contracts` and review the diff"
    )


def test_every_committed_contract_file_is_still_published() -> None:
    published = set(documents())
    committed = {str(p.relative_to(CONTRACTS)) for p in CONTRACTS.rglob("*.json")}
    assert committed <= published, f"stale files under contracts/: {sorted(committed - published)}"


def test_openapi_documents_the_public_endpoints_and_bearer_auth() -> None:
    import json

    doc = json.loads(documents()["openapi.json"])
    assert set(doc["paths"]["/api/v1/cases"]) == {"get", "post"}
    assert "/api/v1/cases/{case_id}" in doc["paths"] and "/api/v1/cases/{case_id}/events" in doc["paths"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
