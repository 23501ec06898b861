"""A folder of your own images: `vectrain load images NAME DIR`.

Every file under DIR with an image suffix (.jpg .jpeg .jpe .jfif .png .webp .gif .tif .tiff
.bmp, any case) is read: JPEG, PNG, WebP, GIF and TIFF (first frame), BMP; EXIF orientation
applied; CMYK, palette, 16-bit and alpha made RGB (vectrain.embed.images). The folders follow the
ImageFolder convention, `DIR/[split/]label/.../file`:
- a top-level folder named train, test, val, valid or validation (any case) names the split;
  val, valid and validation are all stored as `val`;
- the folder below it (or the top folder when there is no split folder) is the label; deeper
  folders are not part of the label; files directly in DIR or in a split folder have none;
- with labels="none" no folder is a label (split folders still name the split).

Ids are the path relative to DIR with `/` separators, so a re-run resumes and adds nothing twice.
`url` is the file's file:// URL: a record of where the item came from, never served by the API
(which serves only the stored thumbnail). Each image's thumbnail is stored with its row.

Walking: sorted, so `limit` takes the same files every time. Hidden files and folders (a leading
`.`) are skipped. Symlinked folders are never followed (no loops, no folder visited twice); they
are listed in the summary's notes. A symlinked file is read when it points to a regular file.
Files with other suffixes are ignored and counted in the notes; a file with an image suffix that
is not a readable image (truncated, not an image, too many pixels, a broken symlink, a FIFO,
a name that is not UTF-8) is logged to the failure log and counted as failed, and the load goes on.

Decoding runs in a thread pool (VECTRAIN_DECODE_WORKERS; Pillow releases the GIL while it
decodes, resizes and encodes): each worker decodes a file (bounded by VECTRAIN_MAX_IMAGE_PIXELS
from its header before any pixel is decoded), makes the thumbnail and, for `pixels`, the vector;
CLIP encodes each batch in the main thread while the pool decodes the next.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vectrain.core.errors import BadInput, Forbidden, VectrainError
from vectrain.core.files import inside, open_inside
from vectrain.embed.encoders import PixelsEncoder, check_dataset_encoder, get_encoder
from vectrain.embed.images import Bounds, decode_image, make_thumbnail, shrink
from vectrain.loaders.writer import DatasetWriter, FailureLog, LoadSummary
from vectrain.storage.store import Store

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"})
SPLITS = {"train": "train", "test": "test", "val": "val", "valid": "val", "validation": "val"}
LABELS = ("folders", "none")
CLIP_INPUT = 224  # CLIP's image processor resizes the short side to 224


@dataclass(frozen=True)
class ImageFile:
    id: str  # path relative to the root, / separators
    path: Path
    split: str
    label: str
    size: int  # bytes


@dataclass(frozen=True)
class Unreadable:
    id: str
    reason: str


@dataclass
class Scan:
    entries: list  # ImageFile | Unreadable, in walk order
    ignored: int = 0  # files without an image suffix
    symlinked_folders: int = 0


def split_and_label(relative: str, labels: str) -> tuple[str, str]:
    folders = relative.split("/")[:-1]
    split = ""
    if folders and folders[0].lower() in SPLITS:
        split = SPLITS[folders[0].lower()]
        folders = folders[1:]
    label = folders[0] if folders and labels == "folders" else ""
    return split, label


def scan(
    root: Path, labels: str = "folders", within: Sequence[Path] | None = None, cancel: Callable[[], None] | None = None
) -> Scan:
    """Every candidate file under root (sorted walk, symlinked folders not followed). With
    `within` (the load roots, for a load asked by a remote client), a symlinked file is read only
    when it resolves inside them. `cancel` (a job's check) is called at every folder."""
    result = Scan([])

    def walk(folder: Path, prefix: str) -> Iterator[os.DirEntry]:
        if cancel is not None:
            cancel()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.entries.append(Unreadable(prefix.rstrip("/") or ".", f"folder not readable ({exc.strerror})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(Path(entry.path), f"{prefix}{entry.name}/")
                    continue
                if entry.is_symlink() and entry.is_dir():
                    result.symlinked_folders += 1
                    continue
            except OSError:
                pass
            yield prefix, entry

    for prefix, entry in walk(root, ""):
        relative = prefix + entry.name
        if os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
            result.ignored += 1
            continue
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            shown = relative.encode("utf-8", "backslashreplace").decode()
            result.entries.append(Unreadable(shown, "the file name is not valid UTF-8: rename it"))
            continue
        try:
            info = os.stat(entry.path)  # follows a symlinked file
        except OSError as exc:
            reason = "a broken symlink" if entry.is_symlink() else f"not readable ({exc.strerror})"
            result.entries.append(Unreadable(relative, reason))
            continue
        if not stat.S_ISREG(info.st_mode):
            result.entries.append(Unreadable(relative, "not a regular file"))
            continue
        path = Path(entry.path)
        if within is not None and entry.is_symlink():
            if not inside(path, within):
                result.entries.append(Unreadable(relative, "a symlink to a file outside the load roots: not read"))
                continue
            path = Path(os.path.realpath(path))
        split, label = split_and_label(relative, labels)
        result.entries.append(ImageFile(relative, path, split, label, info.st_size))
    return result


def _read(
    file: ImageFile,
    encoder,
    min_sides: tuple[int, int],
    bounds: Bounds,
    thumbnail_size: int,
    want_vector: bool,
    within: Sequence[Path] | None = None,
):
    """In a worker: (encoder input or vector, thumbnail, meta) or an error message. With `within`
    (a remote client's load), the file read is the one checked inside the roots when opened."""
    try:
        with open_inside(file.path, within) as handle:
            decoded = decode_image(handle, bounds, name=file.id, min_sides=min_sides)
        small = shrink(decoded.image, thumbnail_size)
        thumbnail = make_thumbnail(small, thumbnail_size)
        meta = {
            "path": file.id,
            "width": decoded.width,
            "height": decoded.height,
            "format": decoded.format,
            "bytes": file.size,
        }
        if not want_vector:
            return None, thumbnail, meta, None
        if not isinstance(encoder, PixelsEncoder):
            return decoded.image, thumbnail, meta, None  # CLIP encodes whole batches in the main thread
        # pixels is plain numpy: encoded here, in parallel, from the thumbnail-sized image when
        # that still has the encoder's resolution, resized with an integer reduction first.
        source = small if min(small.size) >= encoder.size else decoded.image
        square = source.resize((encoder.size, encoder.size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        if not square.getbbox():
            return None, None, None, "all black: the pixels encoder gives it no direction (a zero vector)"
        return encoder.encode_images([square])[0], thumbnail, meta, None
    except VectrainError as exc:
        return None, None, None, exc.message
    except OSError as exc:
        return None, None, None, f"not readable ({exc.strerror or exc})"
    except Exception as exc:  # one bad file never ends the load
        return None, None, None, f"{type(exc).__name__}: {exc}"


def load_images(
    store: Store,
    dataset: str,
    root: str | Path,
    encoder: str = "clip",
    labels: str = "folders",
    limit: int | None = None,
    progress: bool = True,
    failure_log: str | Path | None = None,
    chunk_rows: int | None = None,
    within: Sequence[Path] | None = None,
) -> LoadSummary:
    settings = store.settings
    if labels not in LABELS:
        raise BadInput(f"--labels {labels!r}: use folders or none")
    if limit is not None and limit < 0:
        raise BadInput("--limit must be 0 or more")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BadInput(f"{root}: no such folder")
    if within is not None and not inside(root, within):  # checked again now: it may have been swapped
        raise Forbidden(
            f"{root.name!r} now leads outside the folders this service loads from (VECTRAIN_LOAD_ROOTS): it was "
            "replaced after the load was asked. Nothing was read from it."
        )
    enc = get_encoder(encoder, settings)  # a bad spec or a missing model fails before any file is read
    check_dataset_encoder(store, dataset, enc)
    found = scan(root.absolute(), labels, within, cancel=getattr(progress, "check", None))
    if not any(isinstance(e, ImageFile) for e in found.entries):
        raise BadInput(f"{root} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}); nothing was loaded.")
    entries = found.entries[:limit] if limit is not None else found.entries
    log_path = Path(failure_log) if failure_log else Path(settings.data_dir) / "logs" / f"images-{dataset}-failures.tsv"
    # What decoding must keep: the thumbnail's long side, and the encoder's input on the short side.
    min_sides = (settings.thumbnail_size, enc.size if isinstance(enc, PixelsEncoder) else CLIP_INPUT)
    chunk = chunk_rows or (512 if isinstance(enc, PixelsEncoder) else 64)
    workers = settings.decode_workers or os.cpu_count() or 1
    log = FailureLog(log_path)

    writer = DatasetWriter(
        store,
        dataset,
        enc.dim,
        enc.name,
        model=enc.model,
        total=len(entries),
        progress=progress,
        unit="images",
        description=f"images from {root.name}, {enc.name}",
    )

    def failed(item_id: str, reason: str) -> None:
        reason = reason.removeprefix(f"{item_id}: ").removeprefix(f"{item_id} ")
        log.write(item_id, reason)
        writer.fail(f"{item_id}: {reason}")

    try:
        files = []
        for entry in entries:
            if isinstance(entry, Unreadable):
                failed(entry.id, entry.reason)
            else:
                files.append(entry)
        new, backfill = writer.triage([f.id for f in files])
        todo = sorted([(p, True) for p in new] + [(p, False) for p in backfill])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:

            def submit(block):
                return [
                    (
                        files[p],
                        is_new,
                        pool.submit(
                            _read,
                            files[p],
                            enc,
                            min_sides,
                            Bounds.of(settings),
                            settings.thumbnail_size,
                            is_new,
                            within,
                        ),
                    )
                    for p, is_new in block
                ]

            blocks = iter([todo[i : i + chunk] for i in range(0, len(todo), chunk)])
            pending: deque[list[tuple[ImageFile, bool, Future]]] = deque()
            for block in blocks:  # two blocks in flight: the pool decodes one while we store the other
                pending.append(submit(block))
                if len(pending) == 2:
                    break
            while pending:
                current = pending.popleft()
                following = next(blocks, None)
                if following is not None:
                    pending.append(submit(following))
                _store(writer, enc, current, failed)
        summary = writer.finish()
    finally:
        log.close()
    if found.ignored:
        summary.notes.append(f"ignored {found.ignored} files without an image suffix")
    if found.symlinked_folders:
        summary.notes.append(f"did not follow {found.symlinked_folders} symlinked folders")
    if summary.failed:
        summary.failures.append(f"failures logged to {log_path}")
    return summary


def _store(writer: DatasetWriter, enc, block, failed) -> None:
    rows, inputs, thumbs, metas, extra_ids, extra_thumbs = [], [], [], [], [], []
    for file, is_new, future in block:
        data, thumbnail, meta, error = future.result()
        if error:
            failed(file.id, error)
        elif is_new:
            rows.append(file)
            inputs.append(data)
            thumbs.append(thumbnail)
            metas.append(meta)
        else:
            extra_ids.append(file.id)
            extra_thumbs.append(thumbnail)
    if extra_ids:
        writer.add_thumbnails(extra_ids, extra_thumbs)
    if not rows:
        return
    vectors = np.stack(inputs) if isinstance(enc, PixelsEncoder) else enc.encode_images(inputs)
    writer.write(
        ids=[f.id for f in rows],
        vectors=vectors,
        urls=[f.path.as_uri() for f in rows],
        labels=[f.label for f in rows],
        splits=[f.split for f in rows],
        metas=metas,
        normalized=True,
        thumbnails=thumbs,
    )
