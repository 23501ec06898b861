"""`vectrain session ...`: classifier training sessions (see issue: classifier training)."""

from __future__ import annotations

import click


@click.group()
def session() -> None:
    """Train a classifier by labeling what vector search shows you."""
