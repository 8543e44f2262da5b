"""The ranges of a labelling in parts, kept in Ray's object store and stepped by Ray tasks.

`core.label_parts.label_parts` runs the labelling as passes over ranges of
documents, with counts over the whole corpus made between passes. Given a
`RayParts` store (a `core.label_parts.SteppedParts`), each pass is one Ray
task per range: the task reads the range from the object store, runs the
pass's step (the same core function the embedded runner calls), and puts
the range back. What a step gathers for a count over the whole corpus
(distinct key pairs, variant targets and query lines) stays in the object
store too (`each_held`): a task makes the table from it (`apply`), and the
next pass's tasks read the table from the store; the driver receives the
ranges' bounds, glued passages' keys and summaries. So the block rows and
the tables between passes live on the cluster, where the object store
spills them to disk when memory is short, and the ranges of a pass run on
every CPU of every node.

A range carries its documents' texts (`label_parts.TEXT_COLUMNS`) until
the pass that cuts glued passages, the one that reads them.

A range is kept as a few objects, each holding some of its columns
(`_Range`; made as three: its texts, its word hashes and the rest). A task
is handed only the objects holding the columns its step reads
(`label_parts.step_columns`), and puts back only the columns its step made
or replaced; the others stay in the objects that hold them. Passes that
rewrote whole ranges wrote their texts and word hashes into the store again
each time, and Ray restored them for steps that do not read them: on 250 MB
of text with a 500 MB store, Ray spilled 13.0 GB and restored 13.6 GB in
all; with both changes 7.3 and 10.4 GB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from dedup.core.label_parts import TEXT_COLUMNS, Part, Step, step_columns
from dedup.core.sorting import distinct
from dedup.ray_engine.stages import numbered_contents, range_part, split_by_range
from dedup.schemas import BLOCK_ROWS
from dedup.spilled_texts import SpilledTexts, TextsAt

Out = TypeVar("Out")
I64 = NDArray[np.int64]


# Split tasks per CPU when the ranges are made (`ranges_on_cluster`), at least.
_SPLITS_PER_CPU = 4
# Bytes of block rows a split task takes, at most (when a run holds more
# than one object). A task holds its rows twice at its peak, in the rows it
# was handed and the pieces it makes: with a fixed number of tasks, 1 GB of
# generated pages gave each of them about 0.8 GB, the scan's largest
# processes; with tasks of this size they hold a fixed amount however large
# the corpus.
_SPLIT_BYTES = 128 << 20


def split_runs(n_objects: int, size: int, cpus: int) -> list[I64]:
    """The block-row objects each split task takes: consecutive runs of
    `range(n_objects)`, a few per CPU and more as the rows (`size` bytes in
    all) grow, so that a run holds about `_SPLIT_BYTES` at most, unless it is
    one object."""
    if n_objects < 1:
        return []
    runs = min(n_objects, max(_SPLITS_PER_CPU * cpus, -(-size // _SPLIT_BYTES)))
    return np.array_split(np.arange(n_objects, dtype=np.int64), runs)


def one_thread() -> None:
    """A task holds one CPU: its compiled kernels run on one thread (numba
    otherwise starts a thread per core of the node in every task)."""
    import numba  # type: ignore[import-untyped, unused-ignore]

    numba.set_num_threads(1)


# Per object of a range, the names of the columns taken from it (None: all).
Names = tuple[tuple[str, ...] | None, ...]


@dataclass(frozen=True)
class RangeArgs:
    """How a task finds a range among its arguments (`RayParts.args`).

    The task is given some of the range's objects, `names` telling which
    columns each holds for it, and hands its step the columns among `reads`
    (None: every column). A step that `replaces_all` keeps only the
    columns it returns. Steps keep a range's bounds.
    """

    lo: int
    hi: int
    names: Names
    reads: tuple[str, ...] | None = None
    replaces_all: bool = False


def assembled(given: RangeArgs, objects: Sequence[Part]) -> Part:
    """The range (the columns of `given.reads`) from the objects a task was given."""
    columns: dict[str, NDArray[Any]] = {}
    for taken, obj in zip(given.names, objects, strict=True):
        for name in obj.columns if taken is None else taken:
            if given.reads is None or name in given.reads:
                columns[name] = obj.columns[name]
    return Part(given.lo, given.hi, columns)


# What a task tells the driver of a range it stepped: per object it was
# given, the columns still taken from it, and the columns of the object it
# returned. None: the range is unchanged.
Stepped = tuple[list[tuple[str, ...]], tuple[str, ...]] | None


def _changes(
    given: RangeArgs, objects: Sequence[Part], part: Part, stepped: Part
) -> tuple[Part, Stepped]:
    """The object to put for `stepped` and its `Stepped`.

    The object holds the columns the step made or replaced, and the live
    columns of any object given that holds more dead bytes than live ones
    (columns dropped or replaced, now or before): such an object is let go,
    as a range rewritten whole would be, instead of keeping dead columns in
    the store until its last live one is replaced. A column the step was
    not handed lives on, unless the step `replaces_all`.

    Raises:
        ValueError: the step changed the range's bounds.
    """
    if (stepped.lo, stepped.hi) != (given.lo, given.hi):
        raise ValueError(f"a step made range {given.lo}-{given.hi} into {stepped.lo}-{stepped.hi}")
    new = {k: v for k, v in stepped.columns.items() if part.columns.get(k) is not v}

    def alive(name: str) -> bool:
        if name in new:
            return False
        if name in stepped.columns:
            return True
        handed = given.reads is None or name in given.reads
        return not handed and not given.replaces_all

    kept: list[tuple[str, ...]] = []
    for taken, obj in zip(given.names, objects, strict=True):
        live = tuple(name for name in (obj.columns if taken is None else taken) if alive(name))
        live_bytes = sum(obj.columns[name].nbytes for name in live)
        if sum(c.nbytes for c in obj.columns.values()) - live_bytes > live_bytes:
            new |= {name: obj.columns[name] for name in live}
            live = ()
        kept.append(live)
    return Part(stepped.lo, stepped.hi, new), (kept, tuple(new))


def run_step(
    step: Step[Out], given: RangeArgs, args: Sequence[Any]
) -> tuple[Sequence[Part], Part, tuple[Part | None, Out]]:
    """In a task of `RayParts.start`: the range's objects among `args`, the range
    they make, and what `step` (of `without_held`, its handles after the objects) gives."""
    one_thread()
    objects, held = args[: len(given.names)], args[len(given.names) :]
    part = assembled(given, objects)
    return objects, part, given_held(step, held)(part)


def _step_range(
    step: Step[Out], given: RangeArgs, *args: Any
) -> tuple[Part | None, tuple[Stepped, Out]]:
    """One range stepped in a task: (what to put or None, (its `Stepped`, what it gathers)).

    `args` are the range's objects (`given.names` tells how many), then the
    step's handles.
    """
    objects, part, (stepped, out) = run_step(step, given, args)
    if stepped is None:
        return None, (None, out)
    put, changes = _changes(given, objects, part, stepped)
    return put, (changes, out)


def _step_range_held(
    step: Step[Out], given: RangeArgs, *args: Any
) -> tuple[Part | None, Stepped, Out]:
    """`_step_range` with what the range gathers as a return of its own (left in the store)."""
    put, (changes, out) = _step_range(step, given, *args)
    return put, changes, out


@dataclass(frozen=True)
class _HeldArgument:
    """In a step sent to tasks, the place of a handle: the task's extra argument `index`."""

    index: int


def without_held(step: Step[Out]) -> tuple[Step[Out], list[Any]]:
    """`step` with the handles among its `partial` arguments taken out, and those handles.

    The tasks are then called with the handles as arguments of their own,
    which Ray resolves before a task starts, as far as its object store has
    room. A handle fetched inside a running task (`ray.get`) blocks the task,
    and Ray lends its CPU to the next one waiting, whose range is then held
    too: with a small store (500 MB for 250 MB of text) every range's task
    ended up started, holding its range and waiting for room, and the scan
    hung.
    """
    if not isinstance(step, partial):
        return step, []
    import ray

    held: list[Any] = []
    args = []
    for arg in step.args:
        if isinstance(arg, ray.ObjectRef):
            args.append(_HeldArgument(len(held)))
            held.append(arg)
        else:
            args.append(arg)
    if not held:
        return step, []
    return partial(step.func, *args, **step.keywords), held


def given_held(step: Step[Out], held: Sequence[Any]) -> Step[Out]:
    """`step` (of `without_held`) with the objects Ray handed its task put back in place."""
    if not held or not isinstance(step, partial):
        return step
    args = [held[a.index] if isinstance(a, _HeldArgument) else a for a in step.args]
    return partial(step.func, *args, **step.keywords)


def _applied(threads: int, fn: Callable[..., Out], *args: Any) -> Out:
    """`fn(*args)` in a task that holds `threads` CPUs of a node (its compiled kernels' threads)."""
    import numba  # type: ignore[import-untyped, unused-ignore]

    most: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined, unused-ignore]
    numba.set_num_threads(max(1, min(threads, most)))
    return fn(*args)


def _split(ids: pa.Array, bounds: I64, *batches: pa.Table) -> list[pa.Table] | pa.Table:
    one_thread()
    # Batch by batch, each range's pieces then joined in the batches' order:
    # the rows a range gets, in the order of a split of the batches joined,
    # without the copy of them all that a take over joined batches makes.
    split = [split_by_range(batch, ids, bounds) for batch in batches]
    pieces = [pa.concat_tables(of_range) for of_range in zip(*split, strict=True)]
    # A task of one return gives its value, not a list of one.
    return pieces if len(pieces) != 1 else pieces[0]


def _range(
    lo: int, ids: Sequence[str], texts: TextsAt, *pieces: pa.Table
) -> tuple[Part, Part, Part, I64]:
    """A range made in a task, as three objects: its texts and its word hashes
    apart (most passes read neither), and the other columns; its content keys."""
    one_thread()
    part, keys = range_part(lo, ids, pieces)
    utf8, at = texts.read()
    texts_part = Part(lo, part.hi, {"text_utf8": utf8, "text_at": at})
    words = Part(lo, part.hi, {"words": part["words"]})
    return part.with_columns(("words",)), texts_part, words, keys


def ranges_on_cluster(
    ray: Any,
    block_refs: Sequence[Any],
    ids: Sequence[str],
    bounds: Sequence[int],
    texts: SpilledTexts,
    block_bytes: int = 0,
) -> tuple[RayParts, Any]:
    """The ranges of documents cut at `bounds`, made by Ray tasks; every distinct content key.

    `block_refs` are the object references of the corpus's block rows
    (`BLOCK_ROWS`, any order, with or without their shingle hashes), of
    `block_bytes` bytes in all. Runs of them are split by range in tasks
    (`split_runs`), and each range is made from its pieces
    in a task, with its documents' texts (which the task reads from
    `texts`' file, which it must be able to open) and its blocks' contents
    numbered over the whole corpus: the driver never holds a block row nor
    a text, nor the keys, sorted, which stay in the object store (the
    reference returned, as `RayParts.apply` gives it).
    """
    n = len(bounds) - 1
    if n < 1:
        return RayParts(ray), ray.put(np.empty(0, np.int64))
    ids_ref = ray.put(pa.array(list(ids), pa.string()))
    cuts = np.asarray(bounds, dtype=np.int64)
    split = ray.remote(num_returns=n)(_split)
    # A piece per (split task, range) is an object each: the split tasks are
    # a few per CPU, more only as the rows outgrow `_SPLIT_BYTES` a task.
    cpus = int(ray.cluster_resources().get("CPU", 1))
    runs = split_runs(len(block_refs), block_bytes, cpus)
    pieces = [split.remote(ids_ref, cuts, *(block_refs[i] for i in run)) for run in runs]
    if not pieces:
        pieces = [[ray.put(BLOCK_ROWS.empty_table())] * n]
    elif n == 1:
        pieces = [[p] for p in pieces]
    make = ray.remote(num_returns=4)(_range)
    parts, key_refs = RayParts(ray), []
    for r, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        rest, texts_part, words, keys = make.remote(
            lo, ids[lo:hi], texts.at(lo, hi), *(p[r] for p in pieces)
        )
        parts.add(lo, hi, (rest, texts_part, words), (None, TEXT_COLUMNS, ("words",)))
        key_refs.append(keys)
    del pieces
    keys = parts.apply(all_keys, *key_refs)
    parts.each(partial(numbered_contents, keys))
    return parts, keys


def all_keys(*keys: I64) -> I64:
    """The distinct keys of all ranges, sorted."""
    out: I64 = distinct(np.concatenate(keys)).astype(np.int64, copy=False)
    return out


@dataclass(frozen=True)
class _Range:
    """A range in the object store: its bounds, the objects holding its columns,
    and which columns each holds for it (`Names`; None: all of its own, until
    a task has told)."""

    lo: int
    hi: int
    refs: tuple[Any, ...]
    names: Names

    def handed(self, reads: tuple[str, ...] | None) -> list[int]:
        """The objects a task reading `reads` is given (those that may hold one)."""
        return [
            i
            for i, names in enumerate(self.names)
            if reads is None or names is None or any(n in reads for n in names)
        ]

    def given(
        self, reads: tuple[str, ...] | None, replaces_all: bool = False
    ) -> tuple[RangeArgs, list[int], list[Any]]:
        """For a task reading `reads`: its `RangeArgs`, the objects handed, their references."""
        handed = self.handed(reads)
        names = tuple(self.names[i] for i in handed)
        args = RangeArgs(self.lo, self.hi, names, reads, replaces_all)
        return args, handed, [self.refs[i] for i in handed]

    def stepped(
        self, put: Any, changes: Stepped, handed: Sequence[int], replaces_all: bool
    ) -> _Range:
        """This range after a task given objects `handed` stepped it: `put` is what it returned."""
        if changes is None:
            return self
        kept, new = changes
        told = dict(zip(handed, kept, strict=True))
        pairs = []
        for i, (ref, names) in enumerate(zip(self.refs, self.names, strict=True)):
            if i in told:
                live = told[i]
            elif replaces_all or names is None:
                live = ()  # an object of unknown columns is always handed
            else:
                live = tuple(n for n in names if n not in new)
            if live:
                pairs.append((ref, live))
        if new:
            pairs.append((put, new))
        return _Range(self.lo, self.hi, tuple(r for r, _ in pairs), tuple(k for _, k in pairs))


# Steps of the engine's own and the columns they read (`label_parts.step_columns`).
_OWN_STEPS: dict[Callable[..., Any], tuple[str, ...]] = {numbered_contents: ("key",)}


class RayParts:
    """A `SteppedParts` store: each range a few objects of Ray's object store (`_Range`).

    `load` and `save` move a range between the driver and the store (the
    ranges are made and their spans written by tasks, `ranges_on_cluster`
    and `spans_files.write_spans`: these serve tests and small stores);
    `each` runs a step where the ranges are, handing each task the objects
    that hold the columns the step reads (`label_parts.step_columns`), and
    `args` hands a range to a task of another kind.
    """

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._ranges: list[_Range] = []
        self._task = ray.remote(num_returns=2)(_step_range)
        self._held_task = ray.remote(num_returns=3)(_step_range_held)

    def __len__(self) -> int:
        return len(self._ranges)

    def add(self, lo: int, hi: int, refs: Sequence[Any], names: Names) -> None:
        """A range `lo` to `hi` - 1 made by tasks: its objects, and the columns each holds."""
        self._ranges.append(_Range(lo, hi, tuple(refs), names))

    def load(self, index: int) -> Part:
        given, refs = self.args(index)
        return assembled(given, self._ray.get(refs))

    def args(self, index: int, reads: tuple[str, ...] | None = None) -> tuple[RangeArgs, list[Any]]:
        """Range `index` for a task that reads the columns `reads` (None: all):
        its `RangeArgs` and the references of the objects to give it, which
        the task takes as arguments and gives to `assembled`."""
        given, _, refs = self._ranges[index].given(reads)
        return given, refs

    def save(self, index: int, part: Part) -> None:
        held = _Range(part.lo, part.hi, (self._ray.put(part),), (None,))
        if index == len(self._ranges):
            self._ranges.append(held)
        else:
            self._ranges[index] = held

    def start(self, task: Any, step: Step[Out]) -> tuple[list[Any], list[list[int]], bool]:
        """`task.remote(step, RangeArgs, *objects, *handles)` for every range, in range order.

        Each task is handed the objects holding the columns `step` reads
        (`run_step` gives them back as the range); returns the calls, the
        objects of each range handed, and whether `step` replaces all columns.
        """
        reads, replaces_all = step_columns(step, _OWN_STEPS)
        # Put once: every task reads the step's tables (per content, per
        # cluster) from the object store instead of a copy in its arguments.
        bare, held = without_held(step)
        shared = self._ray.put(bare)
        calls, handed = [], []
        for r in self._ranges:
            given, objects, refs = r.given(reads, replaces_all)
            calls.append(task.remote(shared, given, *refs, *held))
            handed.append(objects)
        return calls, handed, replaces_all

    def each(self, step: Step[Out]) -> list[Out]:
        """What `step` gathers of every range, in range order; the ranges stepped by Ray tasks."""
        calls, handed, replaces_all = self.start(self._task, step)
        gathered = self._ray.get([out for _, out in calls])
        for index, ((put, _), (changes, _)) in enumerate(zip(calls, gathered, strict=True)):
            self._ranges[index] = self._ranges[index].stepped(
                put, changes, handed[index], replaces_all
            )
        return [out for _, out in gathered]

    def each_held(self, step: Step[Out]) -> list[Any]:
        """`each`, what `step` gathers left in the object store: a reference per range."""
        calls, handed, replaces_all = self.start(self._held_task, step)
        changes = self._ray.get([c for _, c, _ in calls])
        for index, ((put, _, _), changed) in enumerate(zip(calls, changes, strict=True)):
            self._ranges[index] = self._ranges[index].stepped(
                put, changed, handed[index], replaces_all
            )
        return [out for _, _, out in calls]

    def apply(self, fn: Callable[..., Out], *args: Any) -> Any:
        """`fn(*args)` in a task, references among `args` given as their objects; its reference.

        Such a task runs between passes, alone: it holds every CPU of the
        largest node, as the driver's threads would.
        """
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        threads = max((int(n.get("Resources", {}).get("CPU", 1)) for n in nodes), default=1)
        task = self._ray.remote(num_cpus=threads)(_applied)
        return task.remote(threads, fn, *args)

    def close(self) -> None:
        """Let the ranges go (the object store frees them once no task holds them)."""
        self._ranges.clear()
