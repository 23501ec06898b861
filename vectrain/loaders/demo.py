"""The offline demo: scikit-learn's 8x8 handwritten digits (1,797 real images, 10 labels),
which ship inside the scikit-learn package, encoded by the pixels encoder as dataset `digits`,
each with its 8x8 pixels as a thumbnail. Every fifth image is in the test split, the rest in train."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from vectrain.embed.encoders import get_encoder
from vectrain.embed.images import make_thumbnail
from vectrain.loaders.writer import DatasetWriter, LoadSummary
from vectrain.storage.store import Store

ENCODER = "pixels@size=8"


def digit_images():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    digits = load_digits()
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        image = Image.fromarray((pixels * (255.0 / 16.0)).astype(np.uint8), mode="L")
        yield i, image, int(target)


def load_demo(store: Store, dataset: str = "digits", progress: bool = True) -> LoadSummary:
    encoder = get_encoder(ENCODER, store.settings)
    items = list(digit_images())
    writer = DatasetWriter(
        store,
        dataset,
        encoder.dim,
        encoder.name,
        total=len(items),
        progress=progress,
        unit="images",
        description="scikit-learn 8x8 handwritten digits (offline demo)",
    )
    size = store.settings.thumbnail_size
    batch = 512
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        new, backfill = writer.triage([f"digit-{i:04d}" for i, _, _ in chunk])
        if backfill:  # stored by an earlier version without thumbnails: no re-encoding
            writer.add_thumbnails(
                [f"digit-{chunk[p][0]:04d}" for p in backfill], [make_thumbnail(chunk[p][1], size) for p in backfill]
            )
        todo = [chunk[p] for p in new]
        if not todo:
            continue
        vectors = encoder.encode_images([image for _, image, _ in todo])
        writer.write(
            ids=[f"digit-{i:04d}" for i, _, _ in todo],
            vectors=vectors,
            urls=[f"sklearn://digits/{i}" for i, _, _ in todo],
            labels=[str(target) for _, _, target in todo],
            splits=["test" if i % 5 == 0 else "train" for i, _, _ in todo],
            metas=[json.dumps({"index": i}) for i, _, _ in todo],
            normalized=True,
            # The 8x8 pixels themselves, as a lossless PNG.
            thumbnails=[make_thumbnail(image, size) for _, image, _ in todo],
        )
    return writer.finish()
