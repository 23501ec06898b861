import csv
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from tests.fixtures import SHARED_DATA
from vectrain.core.errors import BadInput, NotFound
from vectrain.loaders.unsplash import load_unsplash, sized_url
from vectrain.storage import thumbnails
from vectrain.storage.query import Query

HEADER = (
    "photo_id photo_url photo_image_url photo_submitted_at photo_featured photo_width photo_height "
    "photo_aspect_ratio photo_description photographer_username photographer_first_name "
    "photographer_last_name exif_camera_make exif_camera_model exif_iso exif_aperture_value "
    "exif_focal_length exif_exposure_time photo_location_name photo_location_latitude "
    "photo_location_longitude photo_location_country photo_location_city stats_views stats_downloads "
    "ai_description ai_primary_landmark_name ai_primary_landmark_latitude ai_primary_landmark_longitude "
    "ai_primary_landmark_confidence blur_hash"
).split()


def photo_ids(n):
    """Real Unsplash Lite ids when the shared list is here, made-up ones otherwise."""
    path = SHARED_DATA / "unsplash_lite_photo_ids.csv"
    if path.exists():
        with open(path) as f:
            return [r["photo_id"] for _, r in zip(range(n), csv.DictReader(f))]
    return [f"Ph0to{i:06d}" for i in range(n)]


def write_tsv(path, ids, image_base="https://images.unsplash.com/photo-"):
    lines = ["\t".join(HEADER)]
    for i, pid in enumerate(ids):
        row = dict.fromkeys(HEADER, "")
        row.update(
            photo_id=pid,
            photo_url=f"https://unsplash.com/photos/{pid}",
            photo_image_url=f"{image_base}{pid}.jpg",
            photo_width=str(4000 + i),
            photo_height="3000",
            photo_description=f'a "quoted" description {i}' if i % 2 else "",
            ai_description=f"a dog in the snow {i}",
            photographer_username=f"user{i}",
        )
        lines.append("\t".join(row[h] for h in HEADER))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jpegs(folder, ids, seed=0):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for pid in ids:
        Image.fromarray(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)).save(folder / f"{pid}.jpg", quality=90)


def test_local_images_one_missing_one_broken(store, tmp_path):
    ids = photo_ids(6)
    tsv = write_tsv(tmp_path / "photos.tsv000", ids)
    images = tmp_path / "images"
    write_jpegs(images, ids[:4])
    (images / f"{ids[4]}.jpg").write_bytes(b"not a jpeg")  # broken; ids[5] has no file at all
    log = tmp_path / "failures.tsv"
    first = load_unsplash(store, "photos", tsv, images=images, encoder="pixels", progress=False, failure_log=log)
    assert (first.loaded, first.failed, first.skipped, first.thumbnails) == (4, 2, 0, 4)
    thumb = thumbnails.get(store, "photos", ids[2])
    assert (thumb.format, thumb.width, thumb.height) == ("png", 40, 24)  # small: kept losslessly
    logged = log.read_text()
    assert ids[4] in logged and ids[5] in logged and "not a readable image" in logged
    row = store.rows(Query.named("items.get", db=store.database, items="items_photos", id=ids[1]))[0]
    assert row["url"] == f"https://unsplash.com/photos/{ids[1]}"
    meta = json.loads(row["meta"])
    assert meta["photo_description"] == 'a "quoted" description 1'
    assert meta["ai_description"] == "a dog in the snow 1" and meta["photo_width"] == 4001
    second = load_unsplash(store, "photos", tsv, images=images, encoder="pixels", progress=False, failure_log=log)
    assert (second.loaded, second.skipped, second.failed) == (0, 4, 2)
    write_jpegs(images, ids[4:], seed=1)  # the missing photos appear: a re-run finishes them
    third = load_unsplash(store, "photos", tsv, images=images, encoder="pixels", progress=False, failure_log=log)
    assert (third.loaded, third.skipped, third.failed) == (2, 4, 0)
    assert store.registry.count_rows("photos") == 6 and thumbnails.count(store, "photos") == 6


def test_rerun_backfills_thumbnails_of_stored_photos(store, tmp_path, monkeypatch):
    ids = photo_ids(3)
    tsv = write_tsv(tmp_path / "photos.tsv000", ids)
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    images.mkdir()
    for pid in ids:  # large enough for a resized WebP thumbnail
        Image.fromarray(rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)).save(images / f"{pid}.jpg")
    load_unsplash(store, "photos", tsv, images=images, encoder="pixels", progress=False, failure_log=tmp_path / "f.log")
    store.command(
        Query(
            "ALTER TABLE thumbnails DELETE WHERE dataset = 'photos' AND id = {id:String}",
            {"id": ids[1]},
            {"mutations_sync": 2},
        )
    )
    again = load_unsplash(
        store, "photos", tsv, images=images, encoder="pixels", progress=False, failure_log=tmp_path / "f.log"
    )
    assert (again.loaded, again.skipped, again.failed, again.thumbnails) == (0, 3, 0, 1)
    thumb = thumbnails.get(store, "photos", ids[1])
    assert (thumb.format, thumb.width, thumb.height) == ("webp", 256, 154)
    assert store.scalar(Query("SELECT count() FROM thumbnails WHERE dataset = 'photos'")) == 3


def test_limit_and_missing_optional_columns(store, tmp_path):
    ids = photo_ids(5)
    (tmp_path / "photos.tsv000").write_text("photo_id\tphoto_url\n" + "".join(f"{i}\thttps://u/{i}\n" for i in ids))
    write_jpegs(tmp_path / "img", ids)
    s = load_unsplash(
        store,
        "p",
        tmp_path / "photos.tsv000",
        images=tmp_path / "img",
        encoder="pixels@size=8",
        limit=3,
        progress=False,
        failure_log=tmp_path / "f.log",
    )
    assert s.loaded == 3 and store.registry.get("p")["dim"] == 192


def test_not_a_tsv_is_refused_before_anything_changes(store, tmp_path):
    (tmp_path / "photos.tsv000").write_text("id,url\n1,2\n")
    with pytest.raises(BadInput, match="no photo_id column"):
        load_unsplash(store, "p", tmp_path / "photos.tsv000", images=tmp_path, encoder="pixels", progress=False)
    with pytest.raises(NotFound):
        store.registry.get("p")
    with pytest.raises(BadInput, match="no such file"):
        load_unsplash(store, "p", tmp_path / "nope.tsv000", images=tmp_path, encoder="pixels", progress=False)


def test_fetch_over_http(store, tmp_path):
    """Images fetched from photo_image_url (a local HTTP server here: tests use no network)."""
    ids = photo_ids(4)
    served = tmp_path / "served"
    write_jpegs(served, ids[:3])
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tsv = write_tsv(tmp_path / "photos.tsv000", ids, image_base=f"http://127.0.0.1:{server.server_port}/")
        store.settings.download_retries = 1
        s = load_unsplash(store, "web", tsv, encoder="pixels", progress=False, failure_log=tmp_path / "f.log")
    finally:
        server.shutdown()
    assert (s.loaded, s.failed, s.thumbnails) == (3, 1, 3)
    assert "404" in (tmp_path / "f.log").read_text()


def test_sized_url():
    assert (
        sized_url("https://images.unsplash.com/photo-1?ixid=abc&w=2000", 640)
        == "https://images.unsplash.com/photo-1?ixid=abc&w=640"
    )
