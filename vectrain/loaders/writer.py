"""DatasetWriter: the one way rows reach an items table.

Every loader hands it batches; it checks them, skips ids already stored (so a re-run resumes
and a re-load adds nothing twice), inserts Arrow batches without building the vector index,
shows progress (a terminal bar, or a callback `progress(done, total)` for a job in the service:
it may raise to cancel the load between batches), and at the end builds the index once and
reports rows/s.

Loaders that read pixels also hand it thumbnails (vectrain.embed.images.Thumbnail), stored with their
rows in the same step. `triage(ids)` tells a loader which inputs need a row (read + encode),
which only lack a thumbnail (read, no encoding: `add_thumbnails`), and skips the rest, so a
re-run backfills thumbnails without encoding or duplicating anything.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.core.vectors import as_unit_vectors
from vectrain.storage import thumbnails as thumbnail_store
from vectrain.storage.query import Query
from vectrain.storage.store import Store
from vectrain.storage.thumbnails import Thumbnail


@dataclass
class LoadSummary:
    dataset: str
    loaded: int = 0
    skipped: int = 0  # already stored (resume / re-load)
    failed: int = 0  # unreadable inputs, reported by the loader
    thumbnails: int = 0  # thumbnails stored by this run (with new rows, or backfilled)
    seconds: float = 0.0
    index_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the loader left out on purpose, and why; warnings

    @property
    def rows_per_second(self) -> float:
        return self.loaded / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        thumbnails = f", {self.thumbnails} thumbnails stored" if self.thumbnails else ""
        return (
            f"{self.dataset}: loaded {self.loaded}, skipped {self.skipped} already stored, "
            f"failed {self.failed}{thumbnails}, in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s; "
            f"index build {self.index_seconds:.1f} s)"
        )

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "failed": self.failed,
            "thumbnails": self.thumbnails,
            "seconds": round(self.seconds, 3),
            "index_seconds": round(self.index_seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "failures": self.failures[:100],
            "notes": self.notes,
        }


class DatasetWriter:
    def __init__(
        self,
        store: Store,
        dataset: str,
        dim: int,
        encoder: str,
        model: str = "",
        total: int | None = None,
        progress: bool | Callable[[int, int | None], None] = True,
        unit: str = "rows",
        description: str = "",
        unique_ids: bool = False,
    ):
        """`unique_ids`: the loader has checked that its ids are distinct, so the ids it inserts
        need not be remembered (a 10M-row file would hold them all in memory)."""
        self.store = store
        self.dataset = dataset
        self.dim = int(dim)
        self.info = store.registry.create(dataset, self.dim, encoder, model=model, description=description)
        self.table = items_table(dataset)
        self.existing: set[str] = {
            r[0] for r in store.query(Query.named("items.ids", db=store.database, items=self.table)).result_rows
        }
        self.thumbnailed: set[str] = thumbnail_store.stored_ids(store, dataset)
        self.unique_ids = unique_ids
        self.summary = LoadSummary(dataset)
        self._started = time.perf_counter()
        self._report = progress if callable(progress) else None
        if (storing := getattr(self._report, "storing", None)) is not None:  # a job: what it stores is counted
            storing(len(self.existing))
        self._bar = (
            _Reported(progress, total)
            if callable(progress)
            else tqdm(
                total=total,
                unit=f" {unit}",
                desc=f"load {dataset}",
                disable=not progress,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        )

    def is_stored(self, item_id: str) -> bool:
        return item_id in self.existing

    def needs_thumbnail(self, item_id: str) -> bool:
        return item_id not in self.thumbnailed

    def triage(self, ids, thumbnails: bool = True) -> tuple[list[int], list[int]]:
        """Positions in `ids` of inputs to load (no row yet) and of stored rows that lack a
        thumbnail (when the loader makes thumbnails); the others are complete and counted as
        skipped here."""
        new, backfill = [], []
        for position, item_id in enumerate(ids):
            if item_id not in self.existing:
                new.append(position)
            elif thumbnails and item_id not in self.thumbnailed:
                backfill.append(position)
        self.skip(len(ids) - len(new) - len(backfill))
        return new, backfill

    def skip(self, n: int = 1) -> None:
        """Count inputs the loader skipped because their ids are already stored."""
        self.summary.skipped += n
        self._bar.update(n)

    def fail(self, message: str) -> None:
        self.summary.failed += 1
        self.summary.failures.append(message)
        self._bar.update(1)

    def add_thumbnails(self, ids, thumbnails: list[Thumbnail | None]) -> int:
        """Backfill: thumbnails of rows already stored (counted as skipped rows). Returns
        thumbnails stored."""
        ids = [str(i) for i in ids]
        if len(thumbnails) != len(ids):
            raise BadInput(f"thumbnails: {len(thumbnails)} values for {len(ids)} ids")
        stored = self._write_thumbnails(ids, thumbnails)
        self.summary.skipped += len(ids)
        self._bar.update(len(ids))
        return stored

    def _write_thumbnails(self, ids: list[str], thumbnails: list[Thumbnail | None]) -> int:
        keep = [
            i
            for i, (item_id, thumb) in enumerate(zip(ids, thumbnails))
            if thumb is not None and item_id not in self.thumbnailed
        ]
        keep = list({ids[i]: i for i in keep}.values())  # an id given twice is stored once
        thumbnail_store.write(self.store, self.dataset, [ids[i] for i in keep], [thumbnails[i] for i in keep])
        self.thumbnailed.update(ids[i] for i in keep)
        self.summary.thumbnails += len(keep)
        return len(keep)

    def write(
        self,
        ids,
        vectors,
        urls=None,
        labels=None,
        splits=None,
        metas=None,
        normalized: bool = False,
        thumbnails: list[Thumbnail | None] | None = None,
    ) -> int:
        """Insert one batch; ids already stored are skipped. `thumbnails` (aligned with ids, None
        where there is none) are stored for every id that lacks one, new or already stored.
        Returns rows inserted."""
        ids = [str(i) for i in ids]
        n = len(ids)
        if n == 0:
            return 0
        if thumbnails is not None and len(thumbnails) != n:
            raise BadInput(f"thumbnails: {len(thumbnails)} values for {n} ids")
        vectors = np.asarray(vectors, dtype=np.float32)
        if not normalized:
            vectors = as_unit_vectors(vectors, dim=self.dim, what="vectors")
        elif vectors.shape != (n, self.dim):
            raise BadInput(f"vectors: expected shape ({n}, {self.dim}), got {vectors.shape}")
        columns = {"url": urls, "label": labels, "split": splits, "meta": metas}
        for name, values in columns.items():
            if values is not None and len(values) != n:
                raise BadInput(f"{name}: {len(values)} values for {n} ids")
        keep = [i for i, item_id in enumerate(ids) if item_id not in self.existing]
        skipped = n - len(keep)
        if keep:
            sel = np.asarray(keep)
            data = {"id": pa.array([ids[i] for i in keep], pa.string())}
            for name, values in columns.items():
                if values is not None:
                    if name == "meta":
                        values = [v if isinstance(v, str) else json.dumps(v or {}) for v in values]
                    data[name] = pa.array(["" if values[i] is None else str(values[i]) for i in keep], pa.string())
            vecs = np.ascontiguousarray(vectors[sel], dtype=np.float32)
            offsets = pa.array(np.arange(0, len(keep) * self.dim + 1, self.dim, dtype=np.int32))
            data["vector"] = pa.ListArray.from_arrays(offsets, pa.array(vecs.ravel()))
            self.store.insert_arrow(self.table, pa.table(data), settings=self.store.dialect.insert_settings())
            self.store.registry.forget(self.dataset)  # new rows are not indexed yet
            if not self.unique_ids:
                self.existing.update(ids[i] for i in keep)
        if thumbnails is not None:
            # After the rows: a load stopped in between leaves rows without thumbnails, which
            # the next run backfills.
            self._write_thumbnails(ids, thumbnails)
        self.summary.loaded += len(keep)
        self.summary.skipped += skipped
        if (stored := getattr(self._report, "stored", None)) is not None:
            stored(self.summary.loaded)
        self._bar.update(n)
        return len(keep)

    def finish(self, build_index: bool = True) -> LoadSummary:
        progress = not self._bar.disable  # (tqdm's close() sets disable)
        self._bar.close()
        self.summary.seconds = time.perf_counter() - self._started
        if build_index:
            note = getattr(self._report, "note", None)
            if note is not None:
                note("building the vector index")
            # Builds where rows lack the index: after this load, or after a run killed mid-build
            # (the engine's parts say so, even when this run loaded nothing).
            cancel = getattr(self._report, "check", None)  # a job's cancel stops the build too
            self.summary.index_seconds = self.store.registry.build_index(self.dataset, progress=progress, cancel=cancel)
            if warning := self.store.registry.index_cache_warning(self.dataset):
                self.summary.notes.append(warning)
        return self.summary


class _Reported:
    """In place of the terminal bar when a job reports the progress: `report(done, total)`."""

    disable = True

    def __init__(self, report: Callable[[int, int | None], None], total: int | None):
        self.report, self.total, self.n = report, total, 0

    def update(self, n: int = 1) -> None:
        self.n += n
        self.report(self.n, self.total)

    def close(self) -> None:
        pass


class FailureLog:
    """A load's failures, one TSV line each (time, id, reason), in a file created at the first."""

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    def write(self, item_id: str, reason: str) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{item_id}\t{reason}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
