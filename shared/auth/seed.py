"""Demo bureaus and keys for the embedded stack, written to var/dev-credentials.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ZONE, ApiKeyStore, Bureau, BureauDirectory, Role

ZONE_BUREAU = Bureau(id=ZONE, name_zh="高新区管委会", name_en="High-tech Zone Administration")
DEMO_BUREAUS = (
    Bureau(id="finance", name_zh="财政金融局", name_en="Finance & Financial Bureau"),
    Bureau(id="innovation", name_zh="创新发展局", name_en="Innovation & Development Bureau"),
)


def read_credentials(path: Path) -> dict[str, Any]:
    """Return the demo keys (and people's sign-in details) written earlier, or none."""
    return dict(json.loads(path.read_text())) if path.exists() else {}


def write_credentials(path: Path, keys: dict[str, Any]) -> None:
    """Write the demo keys (and people's sign-in details) where README says, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    os.chmod(path, 0o600)


async def seed_demo(db: AsyncDatabase, known: dict[str, Any]) -> dict[str, str]:
    """Register the demo bureaus and return a working key for each, reusing the known ones."""
    directory, keys = BureauDirectory(db), ApiKeyStore(db, cache_seconds=0)
    result: dict[str, str] = {}
    for bureau in DEMO_BUREAUS:
        await directory.register(bureau)
        key = str(known.get(bureau.id, ""))
        principal = await keys.authenticate(key) if key else None
        if principal is None or principal.bureau != bureau.id:
            key = await keys.issue(bureau.id, Role.ADMIN, "demo key (make run)")
        result[bureau.id] = key
    result["operator"] = await _operator_key(directory, keys, str(known.get("operator", "")))
    return result


async def _operator_key(directory: BureauDirectory, keys: ApiKeyStore, known: str) -> str:
    """A zone operator key: publishes the working-day calendar for every bureau."""
    await directory.register(ZONE_BUREAU)
    principal = await keys.authenticate(known) if known else None
    if principal is not None and principal.role is Role.OPERATOR:
        return known
    return await keys.issue(ZONE, Role.OPERATOR, "demo zone operator key (make run)")
