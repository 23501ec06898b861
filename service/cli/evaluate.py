"""`vectrain eval ...`: evaluate zero-shot, kNN and tourney classification."""

from __future__ import annotations

import click


@click.group("eval")
def eval_group() -> None:
    """Evaluate classifiers over a dataset's splits."""
