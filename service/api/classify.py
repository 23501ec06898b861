"""Zero-shot, kNN and tourney classification; label sets."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["classify"])
