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
    @click.option("--path", type=click.Path(), default=None,
                  help=f"The {title} python-version .tar.gz or its extracted folder "
                       "(default: download the official archive to data/cache, md5 checked)")
    @click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True)
    @click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
    @click.option("--limit", type=click.IntRange(min=0), default=None,
                  help="Load at most the first N images of each selected split")
    @click.pass_obj
    @handle_errors
    def command(obj: Context, name: str, path: str | None, split: str, encoder: str, limit: int | None) -> None:
        from loaders.cifar import load_cifar

        summary = load_cifar(obj.store("vectrain load"), name, kind, path=path, split=split,
                             encoder=encoder, limit=limit)
        _print_summary(obj, summary)

    command.__doc__ = (f"Load {title} (train and/or test; label = class name{', meta = coarse label' if kind == 'cifar100' else ''}). "
                       "Re-running resumes: stored images are skipped.")
    return command


load.command("cifar10")(_cifar_command("cifar10", "CIFAR-10"))
load.command("cifar100")(_cifar_command("cifar100", "CIFAR-100"))


@load.command("unsplash")
@click.argument("name")
@click.option("--tsv", required=True, type=click.Path(dir_okay=False), help="Unsplash Lite photos.tsv000")
@click.option("--images", type=click.Path(file_okay=False), default=None,
              help="Folder of <photo_id>.jpg (default: fetch photo_image_url at VECTRAIN_FETCH_WIDTH)")
@click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Read at most the first N photos")
@click.option("--failure-log", type=click.Path(dir_okay=False), default=None,
              help="Where to append photos that could not be read (default data/logs/unsplash-NAME-failures.tsv)")
@click.pass_obj
@handle_errors
def load_unsplash_cmd(obj: Context, name: str, tsv: str, images: str | None, encoder: str, limit: int | None,
                      failure_log: str | None) -> None:
    """Load Unsplash Lite photos; missing or broken images are skipped and reported. Re-running resumes."""
    from loaders.unsplash import load_unsplash

    summary = load_unsplash(obj.store("vectrain load"), name, tsv, images=images, encoder=encoder,
                            limit=limit, failure_log=failure_log)
    _print_summary(obj, summary)


@load.command("images")
@click.argument("name")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--encoder", default="clip", show_default=True, help=ENCODER_HELP)
@click.option("--labels", type=click.Choice(["folders", "none"]), default="folders", show_default=True,
              help="folders: DIR/[split/]label/file names each image's label; none: no labels")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Read at most the first N files (sorted)")
@click.option("--failure-log", type=click.Path(dir_okay=False), default=None,
              help="Where to append files that could not be read (default data/logs/images-NAME-failures.tsv)")
@click.pass_obj
@handle_errors
def load_images_cmd(obj: Context, name: str, folder: str, encoder: str, labels: str, limit: int | None,
                    failure_log: str | None) -> None:
    """Load every image under FOLDER (recursively). A top-level train/, test/ or val/ (valid/,
    validation/) folder names the split, the folder below it the label. Ids are paths relative to
    FOLDER: re-running resumes. Unreadable files are logged and skipped."""
    from loaders.images import load_images

    summary = load_images(obj.store("vectrain load"), name, folder, encoder=encoder, labels=labels, limit=limit,
                          failure_log=failure_log)
    _print_summary(obj, summary)
