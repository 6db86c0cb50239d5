"""Case query finishes the catch-up of a rebuild killed after its flip: shared/readmodels/watch.py.

Every few seconds it looks at the lease of the case-query read models; once a dead rebuild's lease has
expired, it applies the events after its catch-up mark to the generation in use (rebuild.finish_interrupted).
Should that fail, /healthz carries a `rebuild_catch_up` alarm.
"""

from __future__ import annotations

import functools

from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.generations import GENERATIONS
from services.casequery.rebuild import catch_up_alarm, finish_interrupted
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels.lease import RebuildLease, holder_name
from shared.readmodels.watch import WATCH_EVERY_S, InterruptedRebuilds


def interrupted_rebuilds(
    db: AsyncDatabase, recorder: MongoRecorder, every: float = WATCH_EVERY_S
) -> InterruptedRebuilds:
    """Return the watcher of the case-query rebuild lease (run it with `around(lifespan)`)."""
    lease = RebuildLease(db, GENERATIONS, holder=holder_name("casequery"))
    return InterruptedRebuilds(
        lease, functools.partial(finish_interrupted, db, recorder), catch_up_alarm, every
    )
