"""Items and their images, served from the thumbnails table: every demo and CIFAR item's image
equals the loaded pixels; redirects, 304s, backfill on re-run, ids with `/`, hostile input."""

import io
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.fixtures import cifar10_files, drop_store, new_settings, open_store
from vectrain.api.app import create_app
from vectrain.embed.encoders import get_encoder
from vectrain.embed.images import make_thumbnail
from vectrain.loaders.cifar import load_cifar
from vectrain.loaders.demo import ENCODER, digit_images, load_demo
from vectrain.loaders.writer import DatasetWriter
from vectrain.storage import thumbnails
from vectrain.storage.query import Query


def pixels_of(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def thumbnail_rows(store, dataset) -> int:
    """Physical rows (no FINAL): a duplicate would show here."""
    return int(store.scalar(Query("SELECT count() FROM thumbnails WHERE dataset = {d:String}", {"d": dataset})))


def drop_thumbnails(store, dataset, ids):
    store.command(
        Query(
            "ALTER TABLE thumbnails DELETE WHERE dataset = {d:String} AND id IN {ids:Array(String)}",
            {"d": dataset, "ids": list(ids)},
            {"mutations_sync": 2},
        )
    )


def test_every_digit_is_served_with_its_exact_pixels(store, api):
    load_demo(store, progress=False)
    digits = list(digit_images())
    expected = {f"digit-{i:04d}": np.asarray(image) for i, image, _ in digits}
    assert len(expected) == 1797
    # Every stored image, read in one query, equals the loaded pixels ...
    stored = store.query(
        Query("SELECT id, data FROM thumbnails FINAL WHERE dataset = 'digits'"), column_formats={"data": "bytes"}
    ).result_rows
    stored = dict(stored)
    assert sorted(stored) == sorted(expected)
    for item_id, pixels in expected.items():
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(stored[item_id]))), pixels, err_msg=item_id)
    # ... and the image endpoint serves exactly those bytes (every 25th digit: 72 requests).
    for item_id in sorted(expected)[::25]:
        response = api.get(f"/datasets/digits/items/{item_id}/image?size=8")
        assert response.status_code == 200 and response.content == stored[item_id], item_id
        np.testing.assert_array_equal(pixels_of(response), expected[item_id], err_msg=item_id)
    # The default size scales the 8x8 pixels up 32x with nearest neighbour: still exact.
    response = api.get("/datasets/digits/items/digit-0042/image")
    assert response.headers["content-type"] == "image/png"
    big = pixels_of(response)
    assert big.shape[:2] == (256, 256)
    np.testing.assert_array_equal(big[::32, ::32, 0], expected["digit-0042"])
    item = api.get("/datasets/digits/items/digit-0042").json()
    assert item == {
        "id": "digit-0042",
        "url": "sklearn://digits/42",
        "label": str(digits[42][2]),
        "split": "train",
        "meta": {"index": 42},
        "has_image": True,
        "thumbnail": {"format": "png", "width": 8, "height": 8},
    }


def test_every_cifar_item_is_served_with_its_exact_pixels(store, api, tmp_path):
    archive, splits = cifar10_files(tmp_path, n_train=40, n_test=15)
    load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    for split, (data, labels) in splits.items():
        for i in range(len(labels)):
            item_id = f"{split}-{i:05d}"
            want = data[i].reshape(3, 32, 32).transpose(1, 2, 0)
            np.testing.assert_array_equal(pixels_of(api.get(f"/datasets/c10/items/{item_id}/image?size=32")), want)
            if i < 3:
                big = pixels_of(api.get(f"/datasets/c10/items/{item_id}/image?size=128"))
                np.testing.assert_array_equal(big, want.repeat(4, axis=0).repeat(4, axis=1))
    item = api.get("/datasets/c10/items/test-00003").json()
    assert item["split"] == "test" and item["meta"]["filename"] == "img_test_00003.png" and item["has_image"]


def test_unknown_dataset_and_item_answer_404_with_their_code(store, api):
    load_demo(store, progress=False)
    for path in ("/datasets/digits/items/digit-9999", "/datasets/digits/items/digit-9999/image"):
        r = api.get(path)
        assert r.status_code == 404 and r.json()["code"] == "item_not_found" and r.json()["item"] == "digit-9999"
    for path in ("/datasets/nope/items/digit-0001", "/datasets/nope/items/digit-0001/image"):
        r = api.get(path)
        assert r.status_code == 404 and r.json()["code"] == "dataset_not_found"


def test_redirect_only_to_http_urls_and_no_image_otherwise(store, api):
    urls = {
        "web": "https://example.test/cat.jpg",
        "plain": "http://example.test/a b/ü.png",
        "file": "file:///etc/passwd",
        "js": "javascript:alert(1)",
        "data": "data:image/png;base64,AAAA",
        "nohost": "http:///x.png",
        "blank": "",
    }
    writer = DatasetWriter(store, "links", 4, "features", progress=False)
    writer.write(ids=list(urls), vectors=np.eye(4)[[0, 1, 2, 3, 0, 1, 2]], urls=list(urls.values()))
    writer.finish()
    r = api.get("/datasets/links/items/web/image", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://example.test/cat.jpg"
    r = api.get("/datasets/links/items/plain/image", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "http://example.test/a%20b/%C3%BC.png"
    assert api.get("/datasets/links/items/web").json()["has_image"] is True
    for item_id in ("file", "js", "data", "nohost", "blank"):
        r = api.get(f"/datasets/links/items/{item_id}/image", follow_redirects=False)
        assert r.status_code == 404, item_id
        assert r.json()["code"] == "no_image" and "has no image" in r.json()["detail"]
        assert "location" not in r.headers
        assert api.get(f"/datasets/links/items/{item_id}").json()["has_image"] is False


def test_etag_answers_304_and_depends_on_size(store, api):
    load_demo(store, progress=False)
    first = api.get("/datasets/digits/items/digit-0007/image?size=64")
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    again = api.get("/datasets/digits/items/digit-0007/image?size=64", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    listed = api.get("/datasets/digits/items/digit-0007/image?size=64", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    other = api.get("/datasets/digits/items/digit-0007/image?size=16", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    assert (
        api.get("/datasets/digits/items/digit-0008/image?size=64", headers={"If-None-Match": etag}).status_code == 200
    )


def test_rerun_backfills_missing_thumbnails_without_encoding(store, api, monkeypatch):
    load_demo(store, progress=False)
    lost = [f"digit-{i:04d}" for i in (0, 1, 500, 1796)]
    drop_thumbnails(store, "digits", lost)
    assert api.get("/datasets/digits/items/digit-0500/image").json()["code"] == "no_image"

    def no_encoding(images):
        raise AssertionError("a re-run encoded images it already stored")

    monkeypatch.setattr(get_encoder(ENCODER, store.settings), "encode_images", no_encoding)
    again = load_demo(store, progress=False)
    assert (again.loaded, again.skipped, again.failed, again.thumbnails) == (0, 1797, 0, 4)
    assert thumbnail_rows(store, "digits") == 1797 and store.registry.count_rows("digits") == 1797
    pixels = {f"digit-{i:04d}": np.asarray(image) for i, image, _ in digit_images()}
    for item_id in lost:
        np.testing.assert_array_equal(
            pixels_of(api.get(f"/datasets/digits/items/{item_id}/image?size=8")), pixels[item_id]
        )
    third = load_demo(store, progress=False)
    assert (third.loaded, third.thumbnails) == (0, 0) and thumbnail_rows(store, "digits") == 1797


def test_cifar_rerun_backfills_and_resumes(store, tmp_path):
    archive, splits = cifar10_files(tmp_path, n_train=30, n_test=10)
    load_cifar(store, "c10", "cifar10", archive, split="train", limit=20, encoder="pixels", progress=False)
    drop_thumbnails(store, "c10", ["train-00003", "train-00019"])
    again = load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    # 10 train and 10 test rows are new; 20 train rows were stored, 2 of them lacked thumbnails.
    assert (again.loaded, again.skipped, again.thumbnails) == (20, 20, 22)
    assert thumbnail_rows(store, "c10") == 40 and store.registry.count_rows("c10") == 40
    got = thumbnails.get(store, "c10", "train-00019")
    want = splits["train"][0][19].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(got.data))), want)


def test_ids_with_slashes_unicode_and_the_image_suffix(store, api):
    ids = ["cats/tabby/1.png", "x/image", "x/meta", "x", "späße/日本.png", "a b/c.png", "/lead", "trail/"]
    rng = np.random.default_rng(0)
    arrays = rng.integers(0, 256, (len(ids), 12, 20, 3), dtype=np.uint8)
    writer = DatasetWriter(store, "paths", 8, "features", progress=False)
    writer.write(
        ids=ids,
        vectors=rng.normal(size=(len(ids), 8)),
        urls=[""] * len(ids),
        labels=[f"label{i}" for i in range(len(ids))],
        thumbnails=[make_thumbnail(Image.fromarray(a), 256) for a in arrays],
    )
    writer.finish()
    for i, item_id in enumerate(ids):
        path = quote(item_id, safe="/")  # as a client writes it
        np.testing.assert_array_equal(
            pixels_of(api.get(f"/datasets/paths/items/{path}/image?size=20")), arrays[i], err_msg=item_id
        )
        assert api.get(f"/datasets/paths/items/{path}/meta").json()["label"] == f"label{i}"
        if not item_id.endswith(("/image", "/meta")):
            assert api.get(f"/datasets/paths/items/{path}").json()["id"] == item_id
    # A final /image or /meta is a suffix: x/image names the image of x, x/image/meta the item x/image.
    np.testing.assert_array_equal(pixels_of(api.get("/datasets/paths/items/x/image?size=20")), arrays[3])
    assert api.get("/datasets/paths/items/x/image/meta").json()["id"] == "x/image"
    # Percent-encoded slashes are the same id.
    assert api.get("/datasets/paths/items/cats%2Ftabby%2F1.png").json()["id"] == "cats/tabby/1.png"


@pytest.fixture(scope="module")
def three_digits(engine_path):
    """A `digits` dataset of three items with images, and a client, shared by the hostile probes."""
    store = open_store(new_settings(engine_path))
    images = [Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)) for i in range(3)]
    writer = DatasetWriter(store, "digits", 4, "features", progress=False)
    writer.write(
        ids=["digit-0000", "digit-0001", "digit-0002"],
        vectors=np.eye(4)[:3],
        thumbnails=[make_thumbnail(im, 256) for im in images],
    )
    writer.finish()
    with TestClient(create_app(store.settings, store)) as api:
        yield store, api
    drop_store(store)


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/digits/items/digit-0001/image?size=0",
        "/datasets/digits/items/digit-0001/image?size=-5",
        "/datasets/digits/items/digit-0001/image?size=1e9",
        "/datasets/digits/items/digit-0001/image?size=100000000000000000000000000000",
        "/datasets/digits/items/digit-0001/image?size=abc",
        "/datasets/digits/items/digit-0001/image?size=4097",
        "/datasets/digits/items//image",
        "/datasets/digits/items/",
        "/datasets/digits/items/%00/image",
        "/datasets/digits/items/%FF%FE/image",
        "/datasets/digits/items/" + "x" * 5000,
        "/datasets/digits/items/'; DROP TABLE items_digits; --/image",
        "/datasets/Digits/items/digit-0001",
        "/datasets/digits%00/items/digit-0001/image",
        "/datasets/" + "d" * 300 + "/items/x/image",
        "/datasets/digits/items/../../etc/passwd/image",
    ],
)
def test_hostile_requests_get_4xx_never_500(three_digits, path):
    store, api = three_digits
    r = api.get(path, follow_redirects=False)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert r.json()["detail"]
    count = f"SELECT count() FROM {store.database}.items_digits"  # the table itself, not a cached count
    assert store.client.query(count).result_rows[0][0] == 3


def test_sizes_within_bounds(store, api):
    load_demo(store, progress=False)
    assert pixels_of(api.get("/datasets/digits/items/digit-0001/image?size=1")).shape[:2] == (1, 1)
    assert pixels_of(api.get("/datasets/digits/items/digit-0001/image?size=1024")).shape[:2] == (1024, 1024)
    r = api.get("/datasets/digits/items/digit-0001/image?size=1025")
    assert r.status_code == 400 and r.json()["field"] == "size" and "1024" in r.json()["detail"]
