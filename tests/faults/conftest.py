from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.proxy import GatedProxy, gated_proxy
from tests.faults.workers import WorkerProcess, worker_environment
from tests.fixtures.emulators import EmulatedBucket, MotoS3

# Workers of the kill tests renew their job's deadline every second, 2 s ahead: a killed one
# is noticed within 3 s. Workers that must not be declared dead on a loaded machine get more.
KILL_HEARTBEAT = {"WORKER_HEARTBEAT": "1", "WORKER_HEARTBEAT_GRACE": "2"}
SAFE_HEARTBEAT = {"WORKER_HEARTBEAT": "1", "WORKER_HEARTBEAT_GRACE": "60"}


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a real ``cvat-lite rqworker export import`` process (stopped after the test):
    ``start_worker(heartbeat=KILL_HEARTBEAT, BACKUP_FETCH_CONCURRENCY="1", ...)``;
    ``scheduler=True`` runs rq's scheduler in it too."""
    started: list[WorkerProcess] = []

    def start(
        *, heartbeat: dict[str, str] = SAFE_HEARTBEAT, scheduler: bool = False, **overrides: str
    ) -> WorkerProcess:
        worker = WorkerProcess(worker_environment(**heartbeat, **overrides), scheduler=scheduler)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def s3_proxy(s3_emulator: MotoS3) -> Iterator[GatedProxy]:
    with gated_proxy(s3_emulator.endpoint_url) as proxy:
        yield proxy


@pytest.fixture
def proxied_bucket(s3_emulator: MotoS3, s3_proxy: GatedProxy) -> EmulatedBucket:
    """A fresh bucket on the S3 emulator whose config reaches it through ``s3_proxy``
    (``put`` writes directly to the emulator)."""
    resource = s3_emulator.create_bucket().resource
    return EmulatedBucket(s3_emulator, s3_emulator.config_at(s3_proxy.endpoint_url, resource))
