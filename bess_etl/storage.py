"""Files on a local disk or an object store (s3://... through fsspec), with atomic writes.

Local writes go to a hidden temporary file (in a staging directory on the same filesystem, or
beside the target), are fsynced, then renamed over the target, so a reader (or a run killed at
any point) sees the old file or the new one, never a partial one. A killed writer's temporary
files are then found in the staging directory alone, without walking a lake of years of
partitions. On an object store a single PUT is already atomic.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TMP_SUFFIX = ".tmp"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


@lru_cache(maxsize=8)
def _fs_for(protocol: str):
    import fsspec

    return fsspec.filesystem(protocol)


def remote_fs(path: str):
    """The fsspec filesystem for an object-store URL (credentials and endpoint from the usual
    environment variables, e.g. AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID)."""
    return _fs_for(path.split("://", 1)[0])


def write_parquet_atomic(table: pa.Table, path: str, staging_dir: str | None = None) -> None:
    """Write `table` to `path` atomically; the temporary file goes in `staging_dir` (which must
    be on the target's filesystem), or beside the target without one."""
    if is_remote(path):
        fs = remote_fs(path)
        with fs.open(path, "wb") as fh:
            pq.write_table(table, fh, **PARQUET_OPTIONS)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(staging_dir) if staging_dir else target.parent
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f".{target.name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, **PARQUET_OPTIONS)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def read_parquet(path: str, columns: list[str] | None = None) -> pa.Table | None:
    """The file's table, or None when it does not exist."""
    try:
        if is_remote(path):
            fs = remote_fs(path)
            with fs.open(path, "rb") as fh:
                return pq.read_table(fh, columns=columns)
        if not os.path.exists(path):  # cheaper than read_table's own miss (~0.7 ms)
            return None
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        return None


def exists(path: str) -> bool:
    if is_remote(path):
        return remote_fs(path).exists(path)
    return os.path.exists(path)


def list_dirs(path: str) -> list[str]:
    """Names of the sub-directories of `path` (empty when it does not exist)."""
    if is_remote(path):
        fs = remote_fs(path)
        if not fs.exists(path):
            return []
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False) if fs.isdir(p)
        )
    p = Path(path)
    if not p.is_dir():
        return []
    return sorted(e.name for e in os.scandir(p) if e.is_dir())


def remove_stale_temp_files(directory: str) -> int:
    """Delete the temporary files a killed writer left in `directory` (a staging directory, or a
    target's directory). Returns how many were removed."""
    if is_remote(directory) or not Path(directory).is_dir():
        return 0
    n = 0
    for entry in os.scandir(directory):
        if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                n += 1
    return n
