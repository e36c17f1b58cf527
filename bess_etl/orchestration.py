"""Running the flows: tracked by Prefect, or the same flow code directly.

Through Prefect, a run is recorded in a Prefect server (task retries, artifacts, the UI). Without
a server configured, Prefect would start a temporary one in every process (~5 s measured here),
which dominates a small run; so `orchestrate = "auto"` runs flows through Prefect only when
PREFECT_API_URL is set, and otherwise calls the flow's job function (flows/jobs.py), whose tasks
then run as plain functions on a thread pool. The flow code is the same either way.

A direct run never imports Prefect (~2–3 s of imports here): tasks are `Task`s, plain functions
with their Prefect options, made into Prefect tasks on first use inside a flow run.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
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
    if "prefect" not in sys.modules:  # nothing imported Prefect: no flow run can be going on
        return False
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


class Task:
    """A plain function and the options of the Prefect task it runs as inside a flow run."""

    def __init__(self, fn: Callable, options: dict[str, Any]):
        self.fn = fn
        self.options = options
        self._prefect_task = None
        self.__doc__ = fn.__doc__

    @property
    def prefect(self):
        """The Prefect task (made on first use; results are never cached across runs)."""
        if self._prefect_task is None:
            from prefect import task
            from prefect.cache_policies import NO_CACHE

            self._prefect_task = task(cache_policy=NO_CACHE, **self.options)(self.fn)
        return self._prefect_task


def task(**options: Any) -> Callable[[Callable], Task]:
    """Declare a task with Prefect task options (name, retries, ...) without importing Prefect."""
    return lambda fn: Task(fn, options)


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


def run_flow(
    flow_ref: str, job: Callable, settings: Settings, *, prefect: bool | None = None, **params: Any
) -> Any:
    """Run a flow through Prefect (flow_ref, "module:name", imported only then), or its job
    function directly with the same parameters."""
    if not use_prefect(settings, prefect):
        return job(**params)
    module, name = flow_ref.split(":")
    flow = getattr(importlib.import_module(module), name)
    # the flows are async (a sync flow lost up to 1 s joining Prefect's heartbeat)
    return asyncio.run(flow.with_options(task_runner=task_runner(settings))(**params))


def map_tasks(
    task: Task,
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

        futures = task.prefect.map(items, **{k: unmapped(v) for k, v in kwargs.items()})
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


def call_task(task: Task, *args: Any, **kwargs: Any) -> Any:
    """One task call: a Prefect task run inside a flow run, the plain function outside."""
    if in_flow_run():
        return task.prefect.submit(*args, **kwargs).result()
    return task.fn(*args, **kwargs)
