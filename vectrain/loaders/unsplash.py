"""Unsplash Lite: photos.tsv000 (tab-separated, header row) plus the photos, from a local folder
(<photo_id>.jpg) or fetched from photo_image_url at a fixed width.

Columns are read by name; only photo_id is required (photo_image_url when fetching). Images are
read or fetched by a bounded thread pool with timeouts and retries; an image that is missing or
broken is reported (summary + failure log) and skipped, never ends the run. A re-run skips the
ids already stored before touching their images, and retries the ones that failed. Every photo
read is stored with a thumbnail; a re-run reads stored photos that lack one for their thumbnail
only (no re-encoding).
"""

from __future__ import annotations

import csv
import functools
import io
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from PIL import Image

from vectrain.core.errors import BadInput, VectrainError
from vectrain.core.files import open_inside
from vectrain.embed.encoders import check_dataset_encoder, get_encoder
from vectrain.embed.images import Bounds, ImageError, ImageTooLarge, make_thumbnail, open_image
from vectrain.loaders.writer import DatasetWriter, FailureLog, LoadSummary
from vectrain.storage.store import Store

# Kept in meta when present (all optional).
META_COLUMNS = (
    "photo_description",
    "ai_description",
    "photo_width",
    "photo_height",
    "photo_aspect_ratio",
    "photographer_username",
    "photo_location_name",
    "photo_location_country",
    "photo_location_city",
    "ai_primary_landmark_name",
    "photo_submitted_at",
    "photo_image_url",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

csv.field_size_limit(sys.maxsize)  # descriptions can be long


def _open_tsv(path: Path, within: Sequence[Path] | None = None):
    if not path.is_file():
        raise BadInput(f"{path}: no such file (expected Unsplash Lite's photos.tsv000)")
    f = io.TextIOWrapper(open_inside(path, within, "path"), newline="", encoding="utf-8", errors="replace")
    # The Lite files are plain TSV without quoting; QUOTE_NONE keeps a stray quote in a
    # description from swallowing the following lines.
    reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header or "photo_id" not in [h.strip() for h in header]:
        f.close()
        got = ", ".join(h for h in (header or [])[:5]) or "an empty file"
        raise BadInput(
            f"{path} is not an Unsplash photos TSV: its header has no photo_id column (got {got}). Nothing was loaded."
        )
    return f, reader, [h.strip() for h in header]


def count_rows(path: Path, within: Sequence[Path] | None = None) -> int:
    with open_inside(path, within, "path") as f:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1)


def sized_url(url: str, width: int) -> str:
    """photo_image_url with ?w=<width> (Unsplash's imgix resizes server-side)."""
    parts = urlparse(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "w"] + [("w", str(width))]
    return urlunparse(parts._replace(query=urlencode(query)))


class ImageSource:
    """Gets one photo as an RGB PIL image: from the folder if given, else over HTTP."""

    def __init__(
        self,
        folder: Path | None,
        width: int,
        timeout: float,
        retries: int,
        bounds: Bounds,
        within: Sequence[Path] | None = None,
    ):
        self.folder, self.width, self.timeout, self.retries = folder, width, timeout, max(1, retries)
        self.bounds = bounds
        self.within = within  # the load roots a remote client's load must stay in
        self._http = None
        if folder is None:
            import httpx

            self._http = httpx.Client(
                timeout=timeout, follow_redirects=True, headers={"User-Agent": "vectrain (Unsplash Lite loader)"}
            )

    def get(self, photo_id: str, image_url: str) -> Image.Image:
        if self.folder is not None:
            if "/" in photo_id or "\\" in photo_id or photo_id.startswith("."):
                raise ValueError(f"{photo_id!r} is not a photo id: it names a path")
            for suffix in IMAGE_SUFFIXES:
                path = self.folder / f"{photo_id}{suffix}"
                if path.is_file():
                    try:
                        with open_inside(path, self.within) as f:  # checked on the descriptor it reads
                            return _decode(f.read(), self.bounds)
                    except VectrainError as exc:
                        raise PermissionError(exc.message) from None
            raise FileNotFoundError(f"no {photo_id}.jpg in {self.folder}")
        if not image_url:
            raise ValueError("no photo_image_url")
        error: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                time.sleep(0.5 * 2**attempt)
            try:
                response = self._http.get(sized_url(image_url, self.width))
                if response.status_code == 404:
                    raise FileNotFoundError(f"HTTP 404 for {image_url}")
                response.raise_for_status()
                return _decode(response.content, self.bounds)
            except FileNotFoundError:
                raise
            except Exception as exc:  # timeouts, resets, 5xx: retried
                error = exc
        raise ConnectionError(f"{type(error).__name__}: {error} (after {self.retries} tries)")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _decode(raw: bytes, bounds: Bounds) -> Image.Image:
    """Decoded now, in the worker thread, so a broken file fails here (pixels bounded first)."""
    try:
        return open_image(raw, bounds, name="the file")
    except (ImageError, ImageTooLarge) as exc:
        raise ValueError(f"not a readable image ({exc.message})") from None


def _row_meta(row: dict) -> dict:
    meta = {}
    for key in META_COLUMNS:
        value = (row.get(key) or "").strip()
        if value:
            if key in ("photo_width", "photo_height"):
                try:
                    value = int(float(value))
                except ValueError:
                    pass
            meta[key] = value
    return meta


def load_unsplash(
    store: Store,
    dataset: str,
    tsv: str | Path,
    images: str | Path | None = None,
    encoder: str = "clip",
    limit: int | None = None,
    progress: bool = True,
    failure_log: str | Path | None = None,
    chunk_rows: int = 256,
    within: Sequence[Path] | None = None,
) -> LoadSummary:
    settings = store.settings
    tsv = Path(tsv).expanduser()
    folder = Path(images).expanduser() if images else None
    if folder is not None and not folder.is_dir():
        raise BadInput(f"--images {folder}: no such folder")
    if limit is not None and limit < 0:
        raise BadInput("--limit must be 0 or more")
    enc = get_encoder(encoder, store.settings)
    check_dataset_encoder(store, dataset, enc)
    f, reader, header = _open_tsv(tsv, within)  # the header is checked before the dataset is touched
    log_path = (
        Path(failure_log) if failure_log else Path(settings.data_dir) / "logs" / f"unsplash-{dataset}-failures.tsv"
    )
    total = count_rows(tsv, within)
    total = min(total, limit) if limit is not None else total
    source = ImageSource(
        folder,
        settings.fetch_width,
        settings.fetch_timeout,
        settings.download_retries,
        Bounds.of(settings),
        within,
    )
    fetch = functools.partial(_fetch, source, settings.thumbnail_size)
    log = FailureLog(log_path)
    try:
        writer = DatasetWriter(
            store,
            dataset,
            enc.dim,
            enc.name,
            model=enc.model,
            total=total,
            progress=progress,
            unit="images",
            description=f"Unsplash Lite, {enc.name}",
        )

        def failed(photo_id: str, reason: str) -> None:
            log.write(photo_id, reason)
            writer.fail(f"{photo_id}: {reason}")

        seen: set[str] = set()
        lines = islice(((values, reader.line_num) for values in reader), limit)
        with ThreadPoolExecutor(max_workers=max(1, settings.fetch_workers)) as pool:
            while block := list(islice(lines, chunk_rows)):
                chunk = []
                for values, line_num in block:
                    if not any(v.strip() for v in values):
                        writer.skip(1)  # a blank line
                        continue
                    row = dict(zip(header, values))
                    photo_id = (row.get("photo_id") or "").strip()
                    if not photo_id or len(values) != len(header):
                        failed(
                            photo_id or f"line {line_num}",
                            f"malformed TSV line {line_num}: {len(values)} fields, the header has {len(header)}",
                        )
                        continue
                    if photo_id in seen:
                        writer.skip(1)  # repeated in the file
                        continue
                    seen.add(photo_id)
                    chunk.append(row)
                # New photos are read and encoded; stored ones without a thumbnail (an earlier
                # version's load) are read for their thumbnail only; the rest are skipped.
                new, backfill = writer.triage([r["photo_id"].strip() for r in chunk])
                todo = [(chunk[p], True) for p in new] + [(chunk[p], False) for p in backfill]
                good, imgs, thumbs, extra_ids, extra_thumbs = [], [], [], [], []
                for (row, is_new), (image, thumb, error) in zip(todo, pool.map(fetch, [r for r, _ in todo])):
                    if error:
                        failed(row["photo_id"].strip(), error)
                    elif is_new:
                        good.append(row)
                        imgs.append(image)
                        thumbs.append(thumb)
                    else:
                        extra_ids.append(row["photo_id"].strip())
                        extra_thumbs.append(thumb)
                if extra_ids:
                    writer.add_thumbnails(extra_ids, extra_thumbs)
                if good:
                    writer.write(
                        ids=[r["photo_id"].strip() for r in good],
                        vectors=enc.encode_images(imgs),
                        urls=[(r.get("photo_url") or "").strip() for r in good],
                        labels=[""] * len(good),
                        splits=[""] * len(good),
                        metas=[_row_meta(r) for r in good],
                        normalized=True,
                        thumbnails=thumbs,
                    )
        summary = writer.finish()
    finally:
        f.close()
        source.close()
        log.close()
    if summary.failed:
        summary.failures.append(f"failures logged to {log_path}")
    return summary


def _fetch(source: ImageSource, thumbnail_size: int, row: dict):
    """(image, thumbnail, None) or (None, None, error) for one row, in a worker thread."""
    try:
        image = source.get(row["photo_id"].strip(), (row.get("photo_image_url") or "").strip())
        return image, make_thumbnail(image, thumbnail_size), None
    except Exception as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
