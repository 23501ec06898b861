"""`vectrain load ...`: bring data into a dataset (opens the database in this process)."""

from __future__ import annotations

import click

from service.cli.common import Context, echo_json, handle_errors


@click.group()
def load() -> None:
    """Load data into a dataset (runs in this process; stop `vectrain serve` first)."""


@load.command("features")
@click.argument("name")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--encoder", default="features", show_default=True,
              help="Name of what made the vectors, recorded in the registry")
@click.pass_obj
@handle_errors
def load_features_cmd(obj: Context, name: str, path: str, encoder: str) -> None:
    """Load embeddings from an .npz (vectors, ids, [labels, urls, splits]) or .parquet (id, vector, ...)."""
    from loaders.features import load_features

    summary = load_features(obj.store("vectrain load"), name, path, encoder=encoder)
    echo_json(summary.as_dict()) if obj.as_json else click.echo(summary.line())


@load.command("demo")
@click.option("--name", default="digits", show_default=True)
@click.pass_obj
@handle_errors
def load_demo_cmd(obj: Context, name: str) -> None:
    """Load scikit-learn's handwritten digits (ships with the package; works offline)."""
    from loaders.demo import load_demo

    summary = load_demo(obj.store("vectrain load"), name)
    echo_json(summary.as_dict()) if obj.as_json else click.echo(summary.line())
