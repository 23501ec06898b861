"""`vectrain load ...`: bring data into a dataset.

Without a running service the load runs in this process. When `vectrain serve` holds the
embedded database (or --url names a service), the load is handed to it as a job and followed
with a progress bar; Ctrl+C asks whether to cancel it (vectrain.cli.jobs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vectrain.cli.common import Context, echo_json, handle_errors
from vectrain.cli.jobs import follow, report, start_job


@click.group()
def load() -> None:
    """Load data into a dataset (in the running service as a job, or in this process)."""


def run_load(
    obj: Context,
    source: str,
    name: str,
    local: Callable[[Any], Any],
    *,
    path: str | None = None,
    images: str | None = None,
    local_only: dict | None = None,
    **options,
) -> None:
    """Run a load in this process, or hand it to the running service and follow its job."""
    if not obj.remote():
        return _print_summary(obj, local(obj.store("vectrain load")))
    given = [flag for flag, value in (local_only or {}).items() if value is not None]
    if given:
        raise click.UsageError(f"{', '.join(given)}: not available when the load runs in the service")
    trusted = obj.local_secret is not None  # the service on this machine may read what we can

    def where(p: str) -> str:  # the service resolves paths in its own working directory
        return os.path.abspath(os.path.expanduser(p)) if trusted else p

    form = {"source": source, **{k: str(v) for k, v in options.items() if v is not None}}
    files = None
    if path is not None and source == "features" and not trusted:
        # a service elsewhere cannot read our files: upload it
        files = {"file": (Path(path).name, open(os.path.expanduser(path), "rb"))}
    elif path is not None:
        form["path"] = where(path)
    if images is not None:
        form["images"] = where(images)
    try:
        job = start_job(obj, "POST", f"/datasets/{name}/load", data=form, files=files)
    finally:
        if files:
            files["file"][1].close()
    click.echo(f"(loading as job {job['id']} in the service; Ctrl+C asks whether to cancel it)", err=True)
    report(obj, follow(obj, job))


@load.command("features")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--encoder", default="features", show_default=True, help="Name of what made the vectors, recorded in the registry"
)
@click.pass_obj
@handle_errors
def load_features_cmd(obj: Context, name: str, path: str, encoder: str) -> None:
    """Load embeddings from an .npz (vectors, ids, [labels, urls, splits]) or .parquet (id, vector, ...)."""
    from vectrain.loaders.features import load_features

    run_load(
        obj,
        "features",
        name,
        lambda store: load_features(store, name, path, encoder=encoder),
        path=path,
        encoder=encoder,
    )


@load.command("demo")
@click.option("--name", default="digits", show_default=True)
@click.pass_obj
@handle_errors
def load_demo_cmd(obj: Context, name: str) -> None:
    """Load scikit-learn's handwritten digits (ships with the package; works offline)."""
    from vectrain.loaders.demo import load_demo

    run_load(obj, "demo", name, lambda store: load_demo(store, name))


ENCODER_HELP = "clip (final embedding), clip@layer=N (vision layer N, mean-pooled) or pixels[@size=N]"


def _print_summary(obj: Context, summary) -> None:
    if obj.as_json:
        return echo_json(summary.as_dict())
    click.echo(summary.line())
    for line in getattr(summary, "notes", []):
        click.echo(f"  note: {line}", err=True)
    for line in summary.failures[:10]:
        click.echo(f"  failed: {line}", err=True)
    if len(summary.failures) > 10:
        click.echo(f"  ... {len(summary.failures) - 10} more", err=True)


def _cifar_command(kind: str, title: str):
    @click.argument("name")
    @click.option(
        "--path",
        type=click.Path(),
        default=None,
        help=f"The {title} python-version .tar.gz or its extracted folder "
        "(default: download the official archive to data/cache, md5 checked)",
    )
    @click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True)
    @click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
    @click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=None,
        help="Load at most the first N images of each selected split",
    )
    @click.pass_obj
    @handle_errors
    def command(obj: Context, name: str, path: str | None, split: str, encoder: str, limit: int | None) -> None:
        from vectrain.loaders.cifar import load_cifar

        run_load(
            obj,
            kind,
            name,
            lambda store: load_cifar(store, name, kind, path=path, split=split, encoder=encoder, limit=limit),
            path=path,
            split=split,
            encoder=encoder,
            limit=limit,
        )

    command.__doc__ = (
        f"Load {title} (train and/or test; label = class name{', meta = coarse label' if kind == 'cifar100' else ''}). "
        "Re-running resumes: stored images are skipped."
    )
    return command


load.command("cifar10")(_cifar_command("cifar10", "CIFAR-10"))
load.command("cifar100")(_cifar_command("cifar100", "CIFAR-100"))


@load.command("unsplash")
@click.argument("name")
@click.option("--tsv", required=True, type=click.Path(dir_okay=False), help="Unsplash Lite photos.tsv000")
@click.option(
    "--images",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of <photo_id>.jpg (default: fetch photo_image_url at VECTRAIN_FETCH_WIDTH)",
)
@click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Read at most the first N photos")
@click.option(
    "--failure-log",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to append photos that could not be read (default data/logs/unsplash-NAME-failures.tsv)",
)
@click.pass_obj
@handle_errors
def load_unsplash_cmd(
    obj: Context, name: str, tsv: str, images: str | None, encoder: str, limit: int | None, failure_log: str | None
) -> None:
    """Load Unsplash Lite photos; missing or broken images are skipped and reported. Re-running resumes."""
    from vectrain.loaders.unsplash import load_unsplash

    run_load(
        obj,
        "unsplash",
        name,
        lambda store: load_unsplash(
            store, name, tsv, images=images, encoder=encoder, limit=limit, failure_log=failure_log
        ),
        path=tsv,
        images=images,
        encoder=encoder,
        limit=limit,
        local_only={"--failure-log": failure_log},
    )


@load.command("images")
@click.argument("name")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
@click.option(
    "--labels",
    type=click.Choice(["folders", "none"]),
    default="folders",
    show_default=True,
    help="folders: DIR/[split/]label/file names each image's label; none: no labels",
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Read at most the first N files (sorted)")
@click.option(
    "--failure-log",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to append files that could not be read (default data/logs/images-NAME-failures.tsv)",
)
@click.pass_obj
@handle_errors
def load_images_cmd(
    obj: Context, name: str, folder: str, encoder: str, labels: str, limit: int | None, failure_log: str | None
) -> None:
    """Load every image under FOLDER (recursively). A top-level train/, test/ or val/ (valid/,
    validation/) folder names the split, the folder below it the label. Ids are paths relative to
    FOLDER: re-running resumes. Unreadable files are logged and skipped."""
    from vectrain.loaders.images import load_images

    run_load(
        obj,
        "images",
        name,
        lambda store: load_images(
            store, name, folder, encoder=encoder, labels=labels, limit=limit, failure_log=failure_log
        ),
        path=folder,
        encoder=encoder,
        labels=labels,
        limit=limit,
        local_only={"--failure-log": failure_log},
    )
