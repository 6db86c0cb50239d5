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


async def seed_demo(db: AsyncDatabase, credentials: Path) -> dict[str, str]:
    """Register the demo bureaus and make sure each has a working key listed in the credentials file."""
    directory, keys = BureauDirectory(db), ApiKeyStore(db, cache_seconds=0)
    known = json.loads(credentials.read_text()) if credentials.exists() else {}
    result: dict[str, str] = {}
    for bureau in DEMO_BUREAUS:
        await directory.register(bureau)
        key = known.get(bureau.id)
        principal = await keys.authenticate(key) if key else None
        if principal is None or principal.bureau != bureau.id:
            key = await keys.issue(bureau.id, Role.ADMIN, "demo key (make run)")
        result[bureau.id] = key
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(result, indent=2) + "\n")
    os.chmod(credentials, 0o600)
    return result
