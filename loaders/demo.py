"""The offline demo: scikit-learn's 8x8 handwritten digits (1,797 real images, 10 labels),
which ship inside the scikit-learn package, encoded by the pixels encoder as dataset `digits`.
Every fifth image is in the test split, the rest in train."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from loaders.writer import DatasetWriter, LoadSummary
from service.encoders import get_encoder
from service.store import Store

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
    writer = DatasetWriter(store, dataset, encoder.dim, encoder.name, total=len(items), progress=progress,
                           unit="images", description="scikit-learn 8x8 handwritten digits (offline demo)")
    batch = 512
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        todo = [c for c in chunk if not writer.is_stored(f"digit-{c[0]:04d}")]
        writer.skip(len(chunk) - len(todo))
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
        )
    return writer.finish()
