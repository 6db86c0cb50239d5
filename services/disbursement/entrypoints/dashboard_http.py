"""HTTP entry points of the dashboard, the workbook and the bureau's dashboard settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from services.disbursement.application import commands
from services.disbursement.application.answers import Dashboard, SettingsAnswer
from services.disbursement.application.queries import newest
from services.disbursement.application.report import workbook
from services.disbursement.entrypoints.idempotent import command_context
from services.disbursement.entrypoints.state import Services
from services.disbursement.projections.dashboard import dashboard
from services.disbursement.projections.store import ReadModels
from shared.auth.http import Caller
from shared.auth.rights import SettingsChanger
from shared.contracts.disbursement import Day, DisbursementSettingsRequest
from shared.http_query import KNOWN_QUERY_ONLY

router = APIRouter(prefix="/api/v1/disbursements", tags=["disbursement"])
MAX_PERIOD_DAYS = 5 * 366
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Day: "YYYY-MM-DD" in 2000-2100, as every date in a body (the working-day calendar counts no other years).
PeriodFrom = Annotated[
    Day | None,
    Query(
        alias="from",
        description="First Asia/Shanghai day (YYYY-MM-DD), not after `to`, at most 5 years before it",
    ),
]
PeriodTo = Annotated[
    Day | None, Query(alias="to", description="Last Asia/Shanghai day (YYYY-MM-DD), included")
]


def _period(start: date | None, end: date | None) -> tuple[date | None, date | None]:
    if start and end and start > end:
        raise HTTPException(422, "from 晚于 to / the period's from must not be after its to")
    if start and end and (end - start).days > MAX_PERIOD_DAYS:
        raise HTTPException(422, "统计区间最长5年 / the period is at most 5 years")
    return start, end


async def _dashboard(
    services: Services, names: ReadModels, bureau: str, period: tuple[date | None, date | None]
) -> dict[str, Any]:
    return await dashboard(
        services.db,
        names,
        bureau,
        period=period,
        now=datetime.now(UTC),
        calendar=await services.calendars.current(),
        stuck_after_workdays=await services.stuck_after(bureau),
    )


@router.get(
    "/dashboard",
    summary="Totals, by stage, time to account, stuck disbursements and arrears (exact)",
    dependencies=[KNOWN_QUERY_ONLY],
)
async def get_dashboard(
    caller: Caller, request: Request, period_from: PeriodFrom = None, period_to: PeriodTo = None
) -> Dashboard:
    """Read the bureau's dashboard from the read models (not a scan of events)."""
    services = Services.of(request)
    return Dashboard.model_validate(
        await _dashboard(services, await services.names(), caller.bureau, _period(period_from, period_to))
    )


@router.get(
    "/report.xlsx",
    summary="The dashboard and the list as an Excel workbook (Chinese headers, yuan format)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook"}},
    dependencies=[KNOWN_QUERY_ONLY],
)
async def get_report(
    caller: Caller, request: Request, period_from: PeriodFrom = None, period_to: PeriodTo = None
) -> Response:
    """Build the workbook from the read models."""
    services = Services.of(request)
    names = await services.names()  # the figures and the list of one generation, even during a rebuild
    figures = await _dashboard(services, names, caller.bureau, _period(period_from, period_to))
    views = await newest(services.db, names, caller.bureau, services.report_max_rows, datetime.now(UTC))
    bureau = await services.bureaus.get(caller.bureau)
    content = workbook(figures, views, bureau.name_zh if bureau else caller.bureau)
    filename = f"disbursements-{caller.bureau}-{datetime.now(UTC).date().isoformat()}.xlsx"
    return Response(
        content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/settings", summary="The bureau's dashboard settings")
async def get_settings(caller: Caller, request: Request) -> SettingsAnswer:
    """Return the settings in force."""
    return SettingsAnswer(stuck_after_workdays=await Services.of(request).stuck_after(caller.bureau))


@router.put("/settings", summary="Change the bureau's dashboard settings (leadership, admin key)")
async def put_settings(
    body: DisbursementSettingsRequest,
    caller: SettingsChanger,
    request: Request,
) -> SettingsAnswer:
    """Record DisbursementSettingsChanged; a PUT is idempotent by nature (the same value twice is harmless)."""
    services = Services.of(request)
    await commands.change_settings(
        body.stuck_after_workdays, command_context(caller, None), recorder=services.recorder
    )
    return SettingsAnswer(stuck_after_workdays=await services.stuck_after(caller.bureau))
