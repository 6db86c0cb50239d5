"""Demo bureaus and keys for the embedded stack, written to var/dev-credentials.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role

DEMO_BUREAUS = (
    Bureau(id="finance", name_zh="财政金融局", name_en="Finance & Financial Bureau"),
    Bureau(id="innovation", name_zh="创新发展局", name_en="Innovation & Development Bureau"),
)


def read_credentials(path: Path) -> dict[str, str]:
    """Return the demo keys written earlier, or none."""
    return dict(json.loads(path.read_text())) if path.exists() else {}


def write_credentials(path: Path, keys: dict[str, str]) -> None:
    """Write the demo keys where README says, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    os.chmod(path, 0o600)


async def seed_demo(db: AsyncDatabase, known: dict[str, str]) -> dict[str, str]:
    """Register the demo bureaus and return a working key for each, reusing the known ones."""
    directory, keys = BureauDirectory(db), ApiKeyStore(db, cache_seconds=0)
    result: dict[str, str] = {}
    for bureau in DEMO_BUREAUS:
        await directory.register(bureau)
        key = known.get(bureau.id, "")
        principal = await keys.authenticate(key) if key else None
        if principal is None or principal.bureau != bureau.id:
            key = await keys.issue(bureau.id, Role.ADMIN, "demo key (make run)")
        result[bureau.id] = key
    return result
