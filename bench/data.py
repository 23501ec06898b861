"""Synthetic vectors clustered like real CLIP embeddings, for benchmarks.

Noisy copies around real CLIP ViT-B/32 vectors from ../shared/data (2,000 Food-101 images and
1,000 ImageNet prompts) when present, else around random centers. Random unit vectors are a
pathological case for HNSW (docs/ARCHITECTURE.md), so benchmarks use these.
"""

from __future__ import annotations

import numpy as np

from bench.report import SHARED_DATA


def centers(dim: int = 512, seed: int = 0) -> np.ndarray:
    food = SHARED_DATA / "food10_clip_vitb32_train.npz"
    prompts = SHARED_DATA / "imagenet_prompts_clip_vitb32.npz"
    if food.exists() and prompts.exists() and dim == 512:
        parts = [np.load(food)["vectors"].astype(np.float32), np.load(prompts)["vectors"].astype(np.float32)]
        c = np.concatenate(parts)
    else:
        c = np.random.default_rng(seed).normal(size=(3000, dim)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def synthetic_clip(n: int, dim: int = 512, noise: float = 0.5, seed: int = 0, chunk: int = 100_000):
    """Yield (ids, vectors) chunks of n unit vectors: center + noise * N(0, 1/dim) per coordinate.

    noise 0.5 puts a copy at cosine ~0.9 to its center, the spread of real CLIP image neighbours.
    """
    rng = np.random.default_rng(seed)
    c = centers(dim, seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.integers(0, len(c), size=m)
        v = c[which] + (noise / np.sqrt(dim)) * rng.normal(size=(m, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        yield [f"s{start + i:07d}" for i in range(m)], v.astype(np.float32)
