"""Unknown query parameters are refused (422 per name, capped), never ignored, on every list and report."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pymongo.asynchronous.collection import AsyncCollection

from services.assignment.entrypoints.http import router as assignment_router
from services.casequery.bootstrap import Overrides as CaseQueryOverrides
from services.casequery.bootstrap import build_app as casequery_app
from services.casequery.settings import CaseQuerySettings
from services.disbursement.bootstrap import Overrides as DisbursementOverrides
from services.disbursement.bootstrap import build_app as disbursement_app
from services.disbursement.settings import DisbursementSettings
from services.intake.bootstrap import Overrides as IntakeOverrides
from services.intake.bootstrap import build_app as intake_app
from services.intake.settings import IntakeSettings
from services.notification.entrypoints import http as notification_http
from shared.auth.http import Caller
from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory
from shared.auth.keys import Bureau, Role
from shared.eventstore.memory import InMemoryRecorder
from shared.http_query import KNOWN_QUERY_ONLY, MAX_NAMES_SHOWN, declared_query_names, refuse_unknown_query
from shared.service import install_error_handlers
from tests.fakes import FakeApiKeys
from tests.unit.test_assignment_support import app_with
from tests.unit.test_casequery_http import FakeViews, InMemoryStories

ADMIN = {"Authorization": "Bearer finance-admin"}
KEYS = FakeApiKeys({"finance-admin": ("finance", Role.ADMIN)})


async def paging(offset: Annotated[int, Query(ge=0)] = 0) -> int:
    return offset


def small_app() -> FastAPI:
    """One list route: an aliased filter, a plain one, and one declared by a dependency."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.api_keys = KEYS

    @app.get("/items", dependencies=[KNOWN_QUERY_ONLY])
    async def items(
        caller: Caller,
        offset: Annotated[int, Depends(paging)],
        status_: Annotated[str | None, Query(alias="status")] = None,
        limit: int = 50,
        tag: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        return {"status": status_, "limit": limit, "offset": offset} | ({"tag": tag} if tag else {})

    return app


@pytest.fixture
async def small() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_the_names_a_route_declares_pass_its_aliases_and_its_dependencies_included(
    small: httpx.AsyncClient,
) -> None:
    answer = await small.get("/items", params={"status": "open", "limit": 3, "offset": 2}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "open", "limit": 3, "offset": 2}


async def test_an_unknown_name_is_refused_per_name_even_the_python_name_of_an_aliased_one(
    small: httpx.AsyncClient,
) -> None:
    answer = await small.get("/items?status_=open&stauts=open&limit=3", headers=ADMIN)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {
                "loc": ["query", "status_"],
                "msg": "未知的查询参数 'status_' / unknown filter 'status_'",
                "type": "extra_forbidden",
            },
            {
                "loc": ["query", "stauts"],
                "msg": "未知的查询参数 'stauts' / unknown filter 'stauts'",
                "type": "extra_forbidden",
            },
        ]
    }


async def test_thousands_of_unknown_names_give_a_small_answer_naming_twenty_and_counting_the_rest(
    small: httpx.AsyncClient,
) -> None:
    query = "&".join(f"x{i:04d}=1" for i in range(3000)) + "&" + "y" * 5000 + "=1"
    answer = await small.get(f"/items?{query}", headers=ADMIN)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert len(detail) == MAX_NAMES_SHOWN + 1 and len(answer.content) < 4000
    assert detail[0]["loc"] == ["query", "x0000"]
    assert detail[-1] == {
        "loc": ["query"],
        "msg": "另有 2981 个未知参数 / and 2981 more unknown filters",
        "type": "extra_forbidden",
    }


async def test_a_single_valued_filter_given_twice_is_refused_a_list_valued_one_is_not(
    small: httpx.AsyncClient,
) -> None:
    answer = await small.get("/items?status=open&limit=3&status=closed&offset=1&offset=2", headers=ADMIN)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {
                "loc": ["query", "offset"],
                "msg": "只能给一次 / 'offset' given more than once",
                "type": "value_error",
            },
            {
                "loc": ["query", "status"],
                "msg": "只能给一次 / 'status' given more than once",
                "type": "value_error",
            },
        ]
    }
    taken = await small.get("/items?tag=a&tag=b", headers=ADMIN)
    assert taken.status_code == 200 and taken.json()["tag"] == ["a", "b"], taken.text


async def test_a_long_unknown_name_is_shown_cut_short(small: httpx.AsyncClient) -> None:
    answer = await small.get("/items?" + "z" * 10_000 + "=1", headers=ADMIN)
    assert answer.status_code == 422 and len(answer.content) < 400
    assert answer.json()["detail"][0]["loc"] == ["query", "z" * 64 + "…"]


async def test_an_anonymous_caller_is_a_401_before_its_query_string_is_read(small: httpx.AsyncClient) -> None:
    assert (await small.get("/items?stauts=open")).status_code == 401


def test_the_allowed_names_come_from_the_route_signature() -> None:
    [route] = [r for r in assignment_router.routes if getattr(r, "path", "") == "/api/v1/statistics"]
    assert declared_query_names(route.dependant) == {"from", "to"}  # type: ignore[attr-defined]


# -- Every list and report of the services answers an unknown name with the 422 --


class Bureaus:
    """The finance bureau only."""

    async def exists(self, bureau_id: str) -> bool:
        return bureau_id == "finance"

    async def get(self, bureau_id: str) -> Bureau | None:
        return (
            Bureau(id=bureau_id, name_zh="财政金融局", name_en="Finance") if bureau_id == "finance" else None
        )


def casequery() -> FastAPI:
    overrides = CaseQueryOverrides(
        views=cast(AsyncCollection, FakeViews()),
        recorder=InMemoryRecorder(),
        api_keys=KEYS,
        stories=InMemoryStories(),
    )
    return casequery_app(CaseQuerySettings(), overrides)


def disbursement() -> FastAPI:
    db: Any = None  # the refusal comes before any read
    overrides = DisbursementOverrides(recorder=InMemoryRecorder(), api_keys=KEYS, db=db, bureaus=Bureaus())
    return disbursement_app(DisbursementSettings(), overrides)


def notification() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.api_keys = KEYS
    app.include_router(notification_http.router)
    return app


def intake() -> FastAPI:
    overrides = IntakeOverrides(
        recorder=InMemoryRecorder(), api_keys=KEYS, integration_keys=InMemoryIntegrationKeyDirectory()
    )
    return intake_app(IntakeSettings(), overrides)


def assignment() -> FastAPI:
    return app_with(InMemoryRecorder())


ROUTES: list[tuple[Callable[[], FastAPI], str]] = [
    (casequery, "/api/v1/cases"),
    (casequery, "/api/v1/cases/c-1"),
    (casequery, "/api/v1/feed"),
    (disbursement, "/api/v1/disbursements"),
    (disbursement, "/api/v1/disbursements/dashboard"),
    (disbursement, "/api/v1/disbursements/report.xlsx"),
    (notification, "/api/v1/inbox"),
    (notification, "/api/v1/notifications"),
    (notification, "/api/v1/notifications/rules"),
    (notification, "/api/v1/contacts/staff:finance:s1"),
    (assignment, "/api/v1/staff"),
    (assignment, "/api/v1/concierges"),
    (assignment, "/api/v1/statistics"),
    (intake, "/api/v1/integrations/keys"),
]


@pytest.mark.parametrize(("app", "path"), ROUTES, ids=[path for _, path in ROUTES])
async def test_every_list_and_report_refuses_an_unknown_parameter(
    app: Callable[[], FastAPI], path: str
) -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get(path, params={"stauts": "open"}, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == [
        {
            "loc": ["query", "stauts"],
            "msg": "未知的查询参数 'stauts' / unknown filter 'stauts'",
            "type": "extra_forbidden",
        }
    ]


async def test_the_case_list_refuses_a_filter_given_twice() -> None:
    transport = httpx.ASGITransport(app=casequery())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/api/v1/cases?status=open&status=closed", headers=ADMIN)
    assert answer.status_code == 422 and "given more than once" in answer.text, answer.text


async def test_the_roster_still_takes_its_declared_parameter() -> None:
    transport = httpx.ASGITransport(app=assignment())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/api/v1/staff", params={"include_departed": "true"}, headers=ADMIN)
    assert answer.status_code == 200, answer.text


def _guarded(dependant: Dependant) -> bool:
    return dependant.call is refuse_unknown_query or any(_guarded(d) for d in dependant.dependencies)


def test_every_get_route_of_the_services_that_takes_query_parameters_refuses_unknown_ones() -> None:
    # A route added later with a query parameter and without KNOWN_QUERY_ONLY fails here, by name.
    unguarded = []
    root = Path(__file__).resolve().parents[2]
    modules = [p.relative_to(root) for p in root.glob("services/**/*.py") if p.name != "__main__.py"]
    for module in sorted(modules):
        router = getattr(importlib.import_module(".".join(module.with_suffix("").parts)), "router", None)
        for route in getattr(router, "routes", []):
            if not isinstance(route, APIRoute) or "GET" not in (route.methods or set()):
                continue
            if declared_query_names(route.dependant) and not _guarded(route.dependant):
                unguarded.append(f"{module}: GET {route.path}")
    assert unguarded == []
