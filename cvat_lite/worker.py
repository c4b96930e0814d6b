"""The RQ worker of ``cvat-lite rqworker`` (``settings.RQ["WORKER_CLASS"]``).

rq's forking worker, with the heartbeat of the settings: while a job runs, the worker renews
its job's deadline in the started-job registry every ``WORKER_HEARTBEAT`` seconds, to at most
that plus ``WORKER_HEARTBEAT_GRACE`` seconds ahead (rq's defaults: 30 and 60). A job whose
deadline passed has lost its worker (killed, out of memory, machine gone): rq's
``StartedJobRegistry.cleanup`` marks it failed, and ``requests.services.reconcile`` runs that
cleanup when it looks at a started request, so the request fails with a message instead of
staying ``started`` forever.

An entry point of the worker process (as ``wsgi.py`` is of the web process), hence beside
``cli.py`` and not in ``requests/``: it preloads the job modules of every layer and re-arms the
schedules of the backup policies (tests/test_layers.py).
"""

from __future__ import annotations

import gc
import logging
from importlib import import_module
from typing import Any

import rq
from django.conf import settings
from rq.job import Job

logger = logging.getLogger("cvat_lite.policies")

RQ_HEARTBEAT_GRACE = 60  # what rq adds to the monitoring interval
# Imported once by the worker, before it forks a work-horse per job: otherwise every job would
# spend seconds importing the cloud SDKs and the backup code first.
PRELOAD = (
    "cvat_lite.requests.jobs",
    "cvat_lite.backup.restore",
    "cvat_lite.backup.restore_requests",
    "cvat_lite.engine.services.data",
    "cvat_lite.policies.jobs",
    "cvat_lite.policies.services",
)


def _rearm_policies() -> None:
    """Recreate the scheduled fire of every enabled backup policy that has none (a lost or
    flushed Redis): the schedule survives anything but the database."""
    from cvat_lite.policies.schedule import policies_rearm

    try:
        armed = policies_rearm()
    except Exception:  # a worker must start even if the database is not reachable yet
        logger.exception("Could not re-arm the backup policies' schedules")
        return
    if armed:
        logger.info("Re-armed the schedule of %d backup policies", armed)


class Worker(rq.Worker):
    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("job_monitoring_interval", settings.WORKER_HEARTBEAT)
        super().__init__(*args, **kwargs)
        for module in PRELOAD:
            import_module(module)
        # What is loaded by now lives as long as the worker: moved out of the cyclic collector's
        # sight, so that the first collections of each forked work-horse do not walk it (and
        # copy every page they touch): that cost ~0.1 s at the start of every job.
        gc.collect()
        gc.freeze()

    def work(self, *args: Any, **kwargs: Any) -> bool:
        _rearm_policies()
        return super().work(*args, **kwargs)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        ttl = super().get_heartbeat_ttl(job, working_time)
        return max(1, ttl - RQ_HEARTBEAT_GRACE + settings.WORKER_HEARTBEAT_GRACE)
