"""Load precomputed embeddings: .npz (vectors, ids, optional labels/urls/splits) or .parquet
(columns id, vector, optional label/url/split).

The whole file is checked before anything is written, so a bad file leaves the dataset
exactly as it was. Vectors are L2-normalized; ids already stored are skipped (re-loading the
same file adds nothing); the vector index is built once at the end.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vectrain.core.errors import BadInput
from vectrain.core.names import validate_name
from vectrain.core.vectors import as_unit_vectors
from vectrain.loaders.writer import DatasetWriter, LoadSummary
from vectrain.storage.store import Store

OPTIONAL = {"labels": "label", "urls": "url", "splits": "split"}  # npz array -> column


def load_features(
    store: Store, dataset: str, path: str | Path, encoder: str = "features", model: str = "", progress: bool = True
) -> LoadSummary:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"No such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        batches, total, dim = _read_npz(path, store.settings.insert_batch_rows)
    elif suffix == ".parquet":
        batches, total, dim = _read_parquet(path, store.settings.insert_batch_rows)
    else:
        raise BadInput(f"{path.name}: unknown file type {suffix or '(none)'}; use .npz or .parquet")
    validate_name(dataset)
    store.registry.check_compatible(dataset, dim, encoder, model)  # before anything is written
    writer = DatasetWriter(store, dataset, dim, encoder, model=model, total=total, progress=progress)
    for batch in batches():
        writer.write(**batch, normalized=True)
    return writer.finish()


def _check_ids(ids: list[str], where: str) -> None:
    if any(i == "" for i in ids):
        raise BadInput(f"{where}: an id is empty; every row needs a non-empty id")
    if len(set(ids)) != len(ids):
        dupes = [i for i, c in Counter(ids).items() if c > 1][:5]
        raise BadInput(f"{where}: duplicate ids in the file, e.g. {dupes}; ids must be unique")


def _read_npz(path: Path, batch_rows: int):
    try:
        archive = np.load(path, allow_pickle=False)
        names = set(archive.files)
        for required in ("vectors", "ids"):
            if required not in names:
                raise BadInput(f"{path.name}: missing array {required!r} (found {sorted(names)})")
        raw = archive["vectors"]
        ids = [str(i) for i in archive["ids"].tolist()]
        extras = {col: [str(v) for v in archive[arr].tolist()] for arr, col in OPTIONAL.items() if arr in names}
    except BadInput:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise BadInput(f"{path.name} is not a readable .npz file (truncated or corrupt?): {exc}") from None
    if raw.dtype == object or raw.ndim != 2:
        raise BadInput(f"{path.name}: 'vectors' must be a 2-D numeric array (n x d), got shape {raw.shape}")
    if len(ids) != raw.shape[0]:
        raise BadInput(f"{path.name}: {len(ids)} ids for {raw.shape[0]} vectors")
    for col, values in extras.items():
        if len(values) != len(ids):
            raise BadInput(f"{path.name}: {len(values)} {col}s for {len(ids)} ids")
    _check_ids(ids, path.name)
    vectors = as_unit_vectors(raw, what=f"{path.name} vectors")
    dim = vectors.shape[1]

    def batches():
        for start in range(0, len(ids), batch_rows):
            end = start + batch_rows
            yield {
                "ids": ids[start:end],
                "vectors": vectors[start:end],
                **{f"{col}s": values[start:end] for col, values in extras.items()},
            }

    return batches, len(ids), dim


def _read_parquet(path: Path, batch_rows: int):
    """Two passes: check every batch (ids, dims, values) first, then stream the inserts."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"{path.name} is not a readable Parquet file (truncated or corrupt?): {exc}") from None
    columns = set(parquet.schema_arrow.names)
    for required in ("id", "vector"):
        if required not in columns:
            raise BadInput(f"{path.name}: missing column {required!r} (found {sorted(columns)})")
    wanted = ["id", "vector"] + [c for c in ("label", "url", "split") if c in columns]

    def read():
        try:
            yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadInput(f"{path.name} could not be read to the end (truncated or corrupt?): {exc}") from None

    def convert(batch) -> dict:
        ids = [None if i is None else str(i) for i in batch.column("id").to_pylist()]
        if any(i is None for i in ids):
            raise BadInput(f"{path.name}: a row has a null id")
        vec_col = batch.column("vector")
        if not (
            pa.types.is_list(vec_col.type)
            or pa.types.is_large_list(vec_col.type)
            or pa.types.is_fixed_size_list(vec_col.type)
        ):
            raise BadInput(f"{path.name}: column 'vector' must hold lists of numbers, not {vec_col.type}")
        if vec_col.null_count:
            raise BadInput(f"{path.name}: a row has a null vector")
        lengths = pc.list_value_length(vec_col).to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != lengths[0]).any():
            raise BadInput(f"{path.name}: vectors of mixed dimensions ({sorted(set(lengths.tolist()))[:5]})")
        dim = int(lengths[0]) if len(lengths) else 0
        try:
            flat = vec_col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        except (pa.ArrowInvalid, TypeError, ValueError):
            raise BadInput(f"{path.name}: column 'vector' must hold numbers") from None
        vectors = flat.reshape(len(ids), dim)
        out = {"ids": ids, "vectors": vectors}
        for col in ("label", "url", "split"):
            if col in batch.schema.names:
                out[f"{col}s"] = ["" if v is None else str(v) for v in batch.column(col).to_pylist()]
        return out

    seen: set[str] = set()
    dim = None
    total = 0
    for batch in read():
        part = convert(batch)
        if dim is None and part["vectors"].size:
            dim = part["vectors"].shape[1]
        if part["vectors"].size and part["vectors"].shape[1] != dim:
            raise BadInput(f"{path.name}: vectors of mixed dimensions ({dim} and {part['vectors'].shape[1]})")
        as_unit_vectors(part["vectors"], what=f"{path.name} vectors (rows {total}..)")
        _check_ids(part["ids"], path.name)
        dupes = seen.intersection(part["ids"])
        if dupes:
            raise BadInput(f"{path.name}: duplicate ids in the file, e.g. {sorted(dupes)[:5]}; ids must be unique")
        seen.update(part["ids"])
        total += len(part["ids"])
    if total == 0 or dim is None:
        raise BadInput(f"{path.name} has no rows")

    def batches():
        for batch in read():
            part = convert(batch)
            part["vectors"] = as_unit_vectors(part["vectors"], dim=dim)
            yield part

    return batches, total, dim
