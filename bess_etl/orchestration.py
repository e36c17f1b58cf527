"""Running the flows: tracked by Prefect, or the same flow code directly.

Through Prefect, a run is recorded in a Prefect server (task retries, artifacts, the UI). Without
a server configured, Prefect would start a temporary one in every process (~5 s measured here),
which dominates a small run; so `orchestrate = "auto"` runs flows through Prefect only when
PREFECT_API_URL is set, and otherwise calls the flow's own function, whose tasks then run as
plain functions on a thread pool. The flow code is the same either way.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from bess_etl.config import Settings


def use_prefect(settings: Settings, override: bool | None = None) -> bool:
    if override is not None:
        return override
    mode = settings.prefect.orchestrate
    if mode == "auto":
        return bool(os.environ.get("PREFECT_API_URL"))
    return mode == "always"


def in_flow_run() -> bool:
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def task_runner(settings: Settings):
    """The Prefect task runner the settings ask for."""
    if settings.prefect.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.prefect.dask_address:
            return DaskTaskRunner(address=settings.prefect.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": settings.prefect.dask_workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=settings.ingest.parallel_tasks)


def run_flow(flow, settings: Settings, *, prefect: bool | None = None, **params: Any) -> Any:
    """Run a flow object from flows/ through Prefect or directly."""
    if use_prefect(settings, prefect):
        configured = flow.with_options(task_runner=task_runner(settings))
        result = configured(**params)
    else:
        result = flow.fn(**params)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def map_tasks(
    task,
    items: Iterable[Any],
    on_result: Callable[[Any], None],
    max_workers: int,
    **kwargs: Any,
) -> None:
    """Run `task(item, **kwargs)` for every item and hand each result to `on_result` as it
    completes (in this thread). Inside a Prefect flow run these are mapped Prefect tasks (with
    their retries, on the flow's task runner); outside, the task's function on a thread pool."""
    items = list(items)
    if not items:
        return
    if in_flow_run():
        from prefect import unmapped
        from prefect.futures import as_completed as prefect_as_completed

        futures = task.map(items, **{k: unmapped(v) for k, v in kwargs.items()})
        for fut in prefect_as_completed(list(futures)):
            on_result(fut.result())
        return
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = [pool.submit(task.fn, item, **kwargs) for item in items]
        try:
            for fut in as_completed(futures):
                on_result(fut.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def call_task(task, *args: Any, **kwargs: Any) -> Any:
    """One task call: a Prefect task run inside a flow run, the plain function outside."""
    if in_flow_run():
        return task.submit(*args, **kwargs).result()
    return task.fn(*args, **kwargs)
