"""Checks and normalization for vectors coming from users and files."""

from __future__ import annotations

import numpy as np

from service.errors import BadInput


def as_unit_vectors(values, dim: int | None = None, what: str = "vector") -> np.ndarray:
    """float32 [n, d] with unit L2 norm; BadInput on wrong shape, NaN/inf or zero vectors."""
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInput(f"{what}: expected numbers, and all vectors of one length") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise BadInput(f"{what}: expected a list of numbers (or n x d), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise BadInput(f"{what} has {arr.shape[1]} dimensions; the dataset's vectors have {dim}")
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise BadInput(f"{what}: row {bad} contains NaN or infinity")
    norms = np.linalg.norm(arr, axis=1)
    if (norms == 0).any():
        bad = int(np.flatnonzero(norms == 0)[0])
        raise BadInput(f"{what}: row {bad} is all zeros and has no direction")
    return arr / norms[:, None]
