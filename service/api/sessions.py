"""Classifier training sessions (next batch, labels, train, apply)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["sessions"])
