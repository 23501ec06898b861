"""CIFAR-10 and CIFAR-100 from the official "python version" archives.

cifar-10-python.tar.gz holds cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta};
cifar-100-python.tar.gz holds cifar-100-python/{train, test, meta}. Each is a pickled dict with
bytes keys: b'data' (n x 3072 uint8, channel-major R, G, B planes of 32x32), b'labels' (CIFAR-10)
or b'fine_labels' + b'coarse_labels' (CIFAR-100), b'filenames'.

The archive (or extracted folder) is checked completely before anything is written, so a
corrupt or truncated file leaves the dataset as it was. Rows stream one batch file at a time,
ids already stored are skipped before encoding (resume), each image's pixels are stored as a
lossless thumbnail (rows stored without one get it on a re-run), and DatasetWriter does the inserts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vectrain.core.errors import BadInput
from vectrain.embed.encoders import check_dataset_encoder, get_encoder
from vectrain.embed.images import make_thumbnail
from vectrain.loaders.cifar_archive import KINDS, SPLITS, ArchiveSource, download
from vectrain.loaders.writer import DatasetWriter, LoadSummary
from vectrain.storage.store import Store
from vectrain.storage.thumbnails import Thumbnail


def load_cifar(
    store: Store,
    dataset: str,
    kind: str = "cifar10",
    path: str | Path | None = None,
    split: str = "all",
    encoder: str = "clip",
    limit: int | None = None,
    progress: bool = True,
    chunk_rows: int | None = None,
    build_index: bool = True,
    within: list[Path] | None = None,
) -> LoadSummary:
    """Load CIFAR-10/100 into `dataset`. `limit` caps the images of each selected split (the
    first N by id), so `--split all --limit 1000` gives 1,000 train and 1,000 test images."""
    if kind not in KINDS:
        raise BadInput(f"Unknown CIFAR kind {kind!r}: use cifar10 or cifar100")
    spec = KINDS[kind]
    if split not in ("train", "test", "all"):
        raise BadInput(f"--split {split!r}: use train, test or all")
    if limit is not None and limit < 0:
        raise BadInput("--limit must be 0 or more")
    splits = SPLITS if split == "all" else (split,)
    enc = get_encoder(encoder, store.settings)  # before any I/O: a bad spec or missing model fails fast
    check_dataset_encoder(store, dataset, enc)
    source = ArchiveSource(Path(path).expanduser() if path else download(spec, store.settings, progress), spec, within)
    try:
        scanned = source.scan(splits)
        fine, coarse, sizes = scanned["fine"], scanned["coarse"], scanned["sizes"]
        wanted = {s: sum(sizes[m] for m in spec.members[s]) for s in splits}
        if limit is not None:
            wanted = {s: min(n, limit) for s, n in wanted.items()}
        writer = DatasetWriter(
            store,
            dataset,
            enc.dim,
            enc.name,
            model=enc.model,
            total=sum(wanted.values()),
            progress=progress,
            unit="images",
            description=f"{spec.title} ({'+'.join(splits)}), {enc.name}",
        )
        # pixels is cheap per image, so big chunks amortize inserts; CLIP chunks stay small so the
        # bar moves and memory stays flat.
        chunk = chunk_rows or (4096 if enc.name.startswith("pixels") else 256)
        thumb_size = store.settings.thumbnail_size
        for s in splits:
            offset = 0
            for base in spec.members[s]:
                if offset >= wanted[s]:
                    break
                take = min(sizes[base], wanted[s] - offset)
                ids = [f"{s}-{offset + i:05d}" for i in range(take)]
                todo_any = any(not writer.is_stored(i) or writer.needs_thumbnail(i) for i in ids)
                batch = source.batch(base, len(fine), len(coarse)) if todo_any else None
                for start in range(0, take, chunk):
                    new, backfill = writer.triage(ids[start : start + chunk])
                    if backfill:  # rows stored without thumbnails: add them, no re-encoding
                        rows = [start + p for p in backfill]
                        writer.add_thumbnails([ids[r] for r in rows], _thumbnails(batch.images(rows), thumb_size))
                    rows = [start + p for p in new]
                    if not rows:
                        continue
                    pixels = batch.images(rows)
                    vectors = enc.encode_arrays(pixels)
                    metas = []
                    for r in rows:
                        m = {"index": offset + r, "filename": batch.filenames[r], "label_index": int(batch.labels[r])}
                        if batch.coarse is not None:
                            m["coarse_label"] = coarse[batch.coarse[r]]
                        metas.append(m)
                    writer.write(
                        ids=[ids[r] for r in rows],
                        vectors=vectors,
                        urls=[f"{kind}://{s}/{batch.filenames[r]}" for r in rows],
                        labels=[fine[batch.labels[r]] for r in rows],
                        splits=[s] * len(rows),
                        metas=metas,
                        normalized=True,
                        thumbnails=_thumbnails(pixels, thumb_size),
                    )
                offset += take
                del batch
        return writer.finish(build_index=build_index)
    finally:
        source.close()


def _thumbnails(pixels: np.ndarray, size: int) -> list[Thumbnail]:
    """The archive's 32x32 pixels as lossless PNG thumbnails (exactly the loaded pixels)."""
    return [make_thumbnail(Image.fromarray(np.ascontiguousarray(p)), size) for p in pixels]


# -- writing archives in the official format (tests and benchmarks) ----------------------------
