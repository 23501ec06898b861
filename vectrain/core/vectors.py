"""Checks and normalization for vectors coming from users and files."""

from __future__ import annotations

import numpy as np

from vectrain.core.errors import BadInput


def as_unit_vectors(values, dim: int | None = None, what: str = "vector") -> np.ndarray:
    """float32 [n, d] with unit L2 norm; BadInput on wrong shape, NaN/inf or zero vectors.

    Normalized in float64: float32 squares overflow from about 1.8e19, so a vector of 3e38s
    would become all zeros (or NaN) in float32 arithmetic.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{what}: expected numbers, and all vectors of one length", field=what) from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise BadInput(f"{what}: expected a list of numbers (or n x d), got shape {arr.shape}", field=what)
    if dim is not None and arr.shape[1] != dim:
        raise BadInput(f"{what} has {arr.shape[1]} dimensions; the dataset's vectors have {dim}", field=what)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise BadInput(f"{what}: row {bad} contains NaN or infinity", field=what)
    # Scale by the largest magnitude first so the norm itself cannot overflow float64.
    scale = np.abs(arr).max(axis=1, keepdims=True)
    if (scale == 0).any():
        bad = int(np.flatnonzero(scale[:, 0] == 0)[0])
        raise BadInput(f"{what}: row {bad} is all zeros and has no direction", field=what)
    arr = arr / scale
    unit = arr / np.linalg.norm(arr, axis=1, keepdims=True)
    out = unit.astype(np.float32)
    if not np.isfinite(out).all() or (np.abs(out).max(axis=1) == 0).any():  # pragma: no cover - defensive
        raise BadInput(f"{what}: could not be normalized to a unit vector", field=what)
    return out


def float32_value(value) -> float:
    """A value stored as Float32, as the shortest decimal that reads back as that Float32: a
    label score of 0.6 comes back 0.6, not 0.6000000238418579 (what the driver's float64 says)."""
    value = float(value)
    return float(str(np.float32(value))) if np.isfinite(value) else value
