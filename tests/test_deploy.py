"""prefect.yaml is valid for `prefect deploy`: deploy every deployment to the test harness's
server with the Prefect CLI, then read them back through the Prefect client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


def test_prefect_yaml_deploys(prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}

    def prefect(*args: str) -> None:
        proc = subprocess.run(
            [PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    with get_client(sync_client=True) as client:
        # as `prefect work-pool create bess-etl --type process` would (one CLI start-up less)
        client.create_work_pool(WorkPoolCreate(name="bess-etl", type="process"), overwrite=True)
    prefect("--no-prompt", "deploy", "--all")

    with get_client(sync_client=True) as client:
        found = {
            d.name: d
            for d in client.read_deployments()
            if d.name in ("daily", "backfill", "rebuild")
        }
        flows = {f.id: f.name for f in client.read_flows()}
    assert set(found) == {"daily", "backfill", "rebuild"}
    assert {n: flows[d.flow_id] for n, d in found.items()} == {
        "daily": "bess-daily",
        "backfill": "bess-backfill",
        "rebuild": "bess-rebuild",
    }
    for d in found.values():
        assert d.work_pool_name == "bess-etl" and "bess-etl" in d.tags and d.description
    (schedule,) = found["daily"].schedules
    assert schedule.schedule.cron == "30 1 * * *"
    assert schedule.schedule.timezone == "America/Vancouver"
    assert not found["backfill"].schedules and not found["rebuild"].schedules
    assert found["backfill"].parameters["mode"] == "missing,failed"
    # the parameters the deployments set are parameters the flows take
    for name in ("start", "end", "macs", "mode", "dry_run", "config", "data_dir", "wait_s"):
        assert name in found["backfill"].parameter_openapi_schema["properties"]
