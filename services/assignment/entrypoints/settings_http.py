"""HTTP entry points for a bureau's assignment settings (how many enterprises one concierge serves)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.assignment.application.boards import Boards, Context
from services.assignment.domain.rules import AssignmentRefused
from services.assignment.entrypoints.idempotent import idempotent
from shared.auth.rights import Reader, SettingsChanger
from shared.contracts.answers import WholeNumber
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/assignments", tags=["assignment"])


class AssignmentSettings(BaseModel):
    """A bureau's assignment settings."""

    model_config = ConfigDict(extra="forbid")

    enterprises_per_concierge: WholeNumber = Field(
        ge=1, le=20, description="Enterprises one concierge serves at a time (rule 3)"
    )


class SettingsChanged(BaseModel):
    """The settings now in force and what the change recorded."""

    enterprises_per_concierge: int
    recorded: list[str] = Field(
        description="Event types recorded: the setting and any assignments it allowed"
    )


@router.get("/settings", summary="The bureau's assignment settings")
async def get_settings(caller: Reader, request: Request) -> AssignmentSettings:
    """Return the settings in force for the caller's bureau."""
    board = await request.app.state.boards.current(caller.bureau)
    return AssignmentSettings(enterprises_per_concierge=board.capacity)


@router.put(
    "/settings",
    summary="Change the bureau's assignment settings; a higher capacity serves waiting enterprises at once",
    responses={409: {"description": "A rule refuses it now; detail says why"}},
)
async def put_settings(
    body: AssignmentSettings,
    caller: SettingsChanger,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> SettingsChanged:
    """Record ConciergeCapacitySet; enterprises waiting in the queue are served by whoever is now free."""
    boards: Boards = request.app.state.boards

    async def run(context: Context) -> SettingsChanged:
        now = datetime.now(SHANGHAI)
        try:
            events = await boards.decide(
                context, lambda b: b.set_capacity(body.enterprises_per_concierge, now)
            )
        except AssignmentRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        board = await boards.current(caller.bureau)
        return SettingsChanged(
            enterprises_per_concierge=board.capacity, recorded=[e.event_type for e in events]
        )

    return await idempotent(request, caller, idempotency_key, body, SettingsChanged, run, status.HTTP_200_OK)
