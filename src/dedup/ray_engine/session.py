"""Starting or joining a Ray cluster for a scan, with settings that work offline.

Ray is an optional extra: `require_ray` is the one place that imports it for
the engine and turns its absence into a `ConfigError` that says what to
install. Nothing else in dedup imports Ray unless `--engine ray` is asked for.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from dedup.errors import ConfigError, DedupError
from dedup.heap import map_large_allocations

INSTALL = "pip install 'dedup[ray]'"


@dataclass(frozen=True)
class RaySettings:
    """Where and how the Ray engine runs. The tables never depend on these.

    Attributes:
        address: None starts a local Ray instance for the scan (and stops it
            after); "auto" joins the cluster already running on this machine;
            "ray://HOST:10001" joins a remote cluster through Ray Client.
            dedup must be installed, at the same version, on every node.
        num_cpus: CPUs of a local instance (default: every core).
        partitions: partitions of each shuffle (default: from the number of
            blocks, at least 2 per CPU).
        temp_dir: a local instance's session folder (logs, sockets); default
            `<system temp>/ray-dedup`.
        spill_dir: where a local instance's object store spills objects that
            do not fit in memory; default `<temp_dir>/spill`.
        object_store_memory: bytes of a local instance's object store
            (default: Ray's, 30% of memory); more data spills to `spill_dir`.
        max_driver_edges: verified block pairs that may be labelled on the
            driver at once (scipy's connected components, as the embedded
            runner does); above, components are found in rounds over the
            cluster (large-star / small-star) without the edges on one node.
            Up to as many candidate pairs have their keys gathered on the
            driver, so that only the sets they name are shuffled to meet them.
        range_blocks: lines per range of documents that the cluster
            labels (`core.label_parts`, a task per range and pass; a line
            block is a line, so the lines bound the blocks); default: 1 M
            lines (`label_parts.RANGE_BLOCKS`), or fewer so that every CPU
            has a range and two ranges per CPU (a task holds its range and
            makes the next) fit in half of what the arrays per distinct
            content leave of a node's object store.
    """

    address: str | None = None
    num_cpus: int | None = None
    partitions: int | None = None
    temp_dir: str | None = None
    spill_dir: str | None = None
    object_store_memory: int | None = None
    max_driver_edges: int = 2_000_000
    range_blocks: int | None = None

    def __post_init__(self) -> None:
        if self.address is not None and not (
            self.address == "auto"
            or self.address.startswith(("ray://", "localhost", "127."))
            or ":" in self.address
        ):
            raise ConfigError(
                f"--address must be auto, ray://HOST:PORT or HOST:PORT, got {self.address!r}"
            )
        for name in ("num_cpus", "partitions", "object_store_memory", "range_blocks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"ray {name} must be at least 1, got {value}")
        if self.partitions is not None and self.partitions >= 1 << 31:
            # Shuffled rows carry their partition in 32 bits (`stages.with_part`).
            raise ConfigError(f"ray partitions must be below 2**31, got {self.partitions}")
        if self.max_driver_edges < 0:
            raise ConfigError(f"ray max_driver_edges must be >= 0, got {self.max_driver_edges}")
        if self.address is not None and (
            self.num_cpus is not None
            or self.object_store_memory is not None
            or self.spill_dir is not None
        ):
            raise ConfigError(
                "num_cpus, object_store_memory and spill_dir set up a local Ray instance; "
                "with --address the cluster's own settings apply (ray start "
                "--object-store-memory, --object-spilling-directory)"
            )


def require_ray() -> ModuleType:
    """The `ray` module, or a ConfigError saying how to install it."""
    try:
        import ray
        import ray.data  # the engine needs Ray Data, not only Ray core
    except ImportError as exc:
        raise ConfigError(
            f"--engine ray needs Ray Data, which is not installed ({exc}): {INSTALL}"
        ) from None
    return ray


def raise_task_cause(
    exc: BaseException, kinds: tuple[type[BaseException], ...] = (DedupError,)
) -> None:
    """Raise the error a task raised, when it is one of `kinds`, instead of Ray's wrapper.

    Ray wraps an error raised in a task in a `RayTaskError` whose text is
    the worker's traceback; dedup's own errors (a node that cannot read the
    spilled texts) and a task's failed write say what to do.
    """
    from ray.exceptions import RayTaskError

    cause = getattr(exc, "cause", None)
    if isinstance(exc, RayTaskError) and isinstance(cause, kinds):
        raise cause from None


def offline_environment() -> None:
    """Settings for a machine without the internet: no usage reports."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[ModuleType]:
    """Ray, initialised for a scan; a cluster started here is stopped at the end.

    A Ray already initialised in this process (a test, a notebook) is used
    as it is and left running.
    """
    ray = require_ray()
    offline_environment()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, object] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            # Every worker of the scan's job, Ray Data's included.
            "runtime_env": {"worker_process_setup_hook": f"{__name__}.setup_worker"},
        }
        if settings.address is None:
            temp = Path(settings.temp_dir or Path(tempfile.gettempdir()) / "ray-dedup")
            spill = Path(settings.spill_dir or temp / "spill")
            try:
                spill.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"{spill}: cannot make Ray's spill folder ({exc.strerror or exc}); "
                    "choose another with --spill-dir"
                ) from None
            kwargs.update(
                # "local": a new instance even when `ray start` left one running
                # here, which Ray would otherwise join (and refuse num_cpus).
                address="local",
                num_cpus=settings.num_cpus,
                object_store_memory=settings.object_store_memory,
                _temp_dir=str(temp),
                object_spilling_directory=str(spill),
                _system_config={"max_io_workers": io_workers(settings.num_cpus)},
            )
        else:
            kwargs["address"] = settings.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = settings.address or "a local instance"
            raise ConfigError(f"cannot start or reach Ray ({where}): {exc}") from None
        started = True
    restore = configure_data()
    try:
        yield ray
    finally:
        restore()
        if started:
            ray.shutdown()


def io_workers(num_cpus: int | None) -> int:
    """Processes a local instance may start to spill objects (and as many to restore them).

    Ray's default is 4 of each whatever the machine; on 2 CPUs they
    competed with the tasks: 250 MB of text with a 500 MB store took
    87.2 and 96.9 s with 4, 75.0 and 72.9 s with 1 (alternated runs). One
    per 2 CPUs, up to Ray's 4.
    """
    cpus = num_cpus or os.cpu_count() or 1
    return max(1, min(4, cpus // 2))


def setup_worker() -> None:
    """Run by Ray in each worker process of a scan before its first task.

    A worker runs many tasks, each freeing arrays of tens to hundreds of MB;
    without a fixed mmap threshold glibc serves them from its heap and keeps
    the freed pages (`dedup.heap`): at 1 GB of text a worker idle after the
    tasks that split the blocks into ranges held 1.5 GB of them. Arrow's
    buffers are taken from glibc too, for the same reason: its default pool
    (mimalloc) kept what tasks freed, and a worker left idle after block
    matching held 370-720 MB. On 250 MB of text with a 500 MB store the
    sampled peak of the scan's anonymous memory was 1,688-1,701 MB with
    glibc's pool against 1,956-2,117 MB with mimalloc (82-98 s against
    86-89 s, within the noise).
    """
    map_large_allocations()
    pa.set_memory_pool(pa.system_memory_pool())


def configure_data() -> Callable[[], None]:
    """Ray Data set up for the engine; returns what puts the previous settings back.

    - The sort-based push shuffle: its map and reduce steps are tasks in
      Ray's pooled workers, which have dedup imported already. The default
      hash shuffle starts aggregator actors for every shuffle, each a fresh
      process importing numba and the core (5 to 10 s a shuffle here).
    - No progress bars and no log line per dataset: the CLI prints its own
      summary.
    """
    import ray.data
    from ray.data.context import ShuffleStrategy

    context = ray.data.DataContext.get_current()
    # Ray Data warns of things a scan cannot act on (progress bars off, "no
    # available CPUs" while its own tasks hold them); errors still show.
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    # Ray Data's push-based shuffle reads `ray.state`, whose wrapper warns
    # that the attribute is private, once per process: Ray's, not the user's.
    ray_logger = logging.getLogger("ray")
    ray_logger.addFilter(_not_ray_internal_deprecation)
    before = (context.shuffle_strategy, context.enable_progress_bars)
    context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PUSH_BASED
    context.enable_progress_bars = False

    def restore() -> None:
        context.shuffle_strategy, context.enable_progress_bars = before
        logger.setLevel(level)
        ray_logger.removeFilter(_not_ray_internal_deprecation)

    return restore


def _not_ray_internal_deprecation(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("DeprecationWarning: `ray.state.")
