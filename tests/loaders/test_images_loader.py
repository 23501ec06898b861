"""`vectrain load images`: a real folder with every awkward file, on the real engine."""

import io
import json
from urllib.parse import quote

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.image_folder import BLUE, RED, write_special_files
from tests.tiny_clip import PROJECTION_DIM, VISION_HIDDEN
from vectrain.cli.common import Context
from vectrain.cli.main import main
from vectrain.core.errors import BadInput, NotFound
from vectrain.loaders.images import load_images, split_and_label
from vectrain.storage import thumbnails
from vectrain.storage.query import Query


def stored(store, dataset):
    result = store.client.query(f"SELECT id, url, label, split, meta FROM items_{dataset} ORDER BY id")
    return {r[0]: dict(zip(result.column_names, r)) for r in result.result_rows}


def thumb_pixels(store, dataset, item_id) -> np.ndarray:
    thumb = thumbnails.get(store, dataset, item_id)
    assert thumb is not None, item_id
    return np.asarray(Image.open(io.BytesIO(thumb.data)).convert("RGB")).astype(int)


@pytest.fixture
def folder(tmp_path):
    """train/cat, train/dog, test/cat, validation/bird, an unsplit label folder, loose files, and
    the awkward files under train/odd."""
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    exact = {}
    for rel, fmt in [
        ("train/cat/a.png", "PNG"),
        ("train/cat/b.jpg", "JPEG"),
        ("train/dog/c.webp", "WEBP"),
        ("train/dog/deeper/sub/d.png", "PNG"),
        ("test/cat/e.PNG", "PNG"),
        ("test/dog/f.jpeg", "JPEG"),
        ("Validation/bird/g.png", "PNG"),
        ("valid/bird/g2.png", "PNG"),
        ("unsplit/h.png", "PNG"),
        ("loose.png", "PNG"),
        ("test/loose-in-split.png", "PNG"),
        ("train/cat/ünï cödé.png", "PNG"),
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        exact[rel] = pixels
    failing = write_special_files(root, "train", "odd")
    return root, exact, failing


def test_folders_name_splits_and_labels():
    assert split_and_label("train/cat/x.jpg", "folders") == ("train", "cat")
    assert split_and_label("VALIDATION/cat/x.jpg", "folders") == ("val", "cat")
    assert split_and_label("valid/cat/more/x.jpg", "folders") == ("val", "cat")
    assert split_and_label("cat/x.jpg", "folders") == ("", "cat")
    assert split_and_label("train/x.jpg", "folders") == ("train", "")
    assert split_and_label("x.jpg", "folders") == ("", "")
    assert split_and_label("train/cat/x.jpg", "none") == ("train", "")
    assert split_and_label("trains/cat/x.jpg", "folders") == ("", "trains")


def test_image_folder_end_to_end(store, api, folder, tmp_path):
    root, exact, failing = folder
    log = tmp_path / "failures.tsv"
    summary = load_images(store, "mine", root, encoder="pixels", progress=False, failure_log=log)
    good = len(exact) + 7  # + cmyk, rotated, palette, deep16, frames.gif, pages.tiff, plain.bmp
    assert (summary.loaded, summary.skipped, summary.failed, summary.thumbnails) == (good, 0, len(failing), good)
    assert "ignored 1 files without an image suffix" in summary.notes
    assert "did not follow 1 symlinked folders" in summary.notes

    # Every bad file is in the log with its id, and nothing else is.
    logged = {line.split("\t")[1]: line.split("\t")[2] for line in log.read_text().splitlines()}
    assert set(logged) == set(failing)
    assert "truncated" in logged["train/odd/truncated.jpg"]
    assert "not an image" in logged["train/odd/notes.jpg"]
    assert "10000 x 5000 pixels" in logged["train/odd/giant.png"]
    assert "too many pixels" in logged["train/odd/bomb.png"]
    assert "broken symlink" in logged["train/odd/broken.jpg"]
    assert "not a regular file" in logged["train/odd/pipe.jpg"]

    rows = stored(store, "mine")
    assert len(rows) == good and not any("loop" in i or "hidden" in i for i in rows)
    expect = {
        "train/cat/a.png": ("train", "cat"),
        "train/dog/deeper/sub/d.png": ("train", "dog"),
        "test/cat/e.PNG": ("test", "cat"),
        "Validation/bird/g.png": ("val", "bird"),
        "valid/bird/g2.png": ("val", "bird"),
        "unsplit/h.png": ("", "unsplit"),
        "loose.png": ("", ""),
        "test/loose-in-split.png": ("test", ""),
        "train/odd/cmyk.jpg": ("train", "odd"),
    }
    for item_id, split_label in expect.items():
        assert (rows[item_id]["split"], rows[item_id]["label"]) == split_label, item_id
    row = rows["train/cat/ünï cödé.png"]
    assert row["url"] == (root / "train/cat/ünï cödé.png").absolute().as_uri()
    assert json.loads(row["meta"]) == {
        "path": "train/cat/ünï cödé.png",
        "width": 30,
        "height": 20,
        "format": "PNG",
        "bytes": (root / "train/cat/ünï cödé.png").stat().st_size,
    }

    # Lossless sources come back pixel for pixel, from the database, through the API.
    for rel, pixels in exact.items():
        if not rel.endswith(".jpg") and not rel.endswith(".jpeg"):
            r = api.get(f"/datasets/mine/items/{quote(rel)}/image?size=30")
            assert r.status_code == 200, (rel, r.text)
            np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(r.content))), pixels, err_msg=rel)

    # The awkward ones, converted as a person would expect to see them.
    cmyk = thumb_pixels(store, "mine", "train/odd/cmyk.jpg").mean(axis=(0, 1))
    assert cmyk[0] > 200 and cmyk[1] < 60 and cmyk[2] < 60  # red
    rotated = thumb_pixels(store, "mine", "train/odd/rotated.jpg")
    assert rotated.shape == (40, 20, 3)  # EXIF orientation 6: 40 x 20 stored as 20 wide, 40 high
    assert np.abs(rotated[:15].mean(axis=(0, 1)) - RED).max() < 40  # the red half is on top
    assert np.abs(rotated[25:].mean(axis=(0, 1)) - BLUE).max() < 40
    assert json.loads(rows["train/odd/rotated.jpg"]["meta"])["width"] == 20
    palette = thumb_pixels(store, "mine", "train/odd/palette.png")
    assert (palette[:, :5] == 255).all() and (palette[:, 5:] == BLUE).all()  # transparent -> white
    deep = thumb_pixels(store, "mine", "train/odd/deep16.png")
    assert deep[0, 0].tolist() == [0, 0, 0] and deep[0, -1].tolist() == [255, 255, 255]
    assert (thumb_pixels(store, "mine", "train/odd/frames.gif") == RED).all()  # the first frame
    assert (thumb_pixels(store, "mine", "train/odd/pages.tiff") == RED).all()
    assert (thumb_pixels(store, "mine", "train/odd/plain.bmp") == (10, 200, 30)).all()

    # The file:// url is never served: with its thumbnail gone, the image is simply missing.
    store.command(
        Query(
            "ALTER TABLE thumbnails DELETE WHERE dataset = 'mine' AND id = 'loose.png'", settings={"mutations_sync": 2}
        )
    )
    r = api.get("/datasets/mine/items/loose.png/image", follow_redirects=False)
    assert r.status_code == 404 and r.json()["code"] == "no_image"

    # A re-run loads nothing, backfills the one missing thumbnail and reports the bad files again.
    again = load_images(store, "mine", root, encoder="pixels", progress=False, failure_log=log)
    assert (again.loaded, again.skipped, again.failed, again.thumbnails) == (0, good, len(failing), 1)
    assert store.registry.count_rows("mine") == good
    assert store.scalar(Query("SELECT count() FROM thumbnails WHERE dataset = 'mine'")) == good


def test_labels_none_limit_and_resume(store, folder, tmp_path):
    root, exact, failing = folder
    first = load_images(
        store,
        "few",
        root,
        encoder="pixels@size=8",
        labels="none",
        limit=5,
        progress=False,
        failure_log=tmp_path / "f.tsv",
    )
    assert first.loaded + first.failed == 5
    rows = stored(store, "few")
    assert all(r["label"] == "" for r in rows.values())
    assert {r["split"] for r in rows.values()} <= {"train", "test", "val", ""}
    rest = load_images(
        store, "few", root, encoder="pixels@size=8", labels="none", progress=False, failure_log=tmp_path / "f.tsv"
    )
    assert rest.skipped == first.loaded and rest.loaded + first.loaded == len(exact) + 7


def test_bad_arguments_change_nothing(store, folder, tmp_path):
    root, _, _ = folder
    with pytest.raises(BadInput, match="no such folder"):
        load_images(store, "x", tmp_path / "nope", encoder="pixels", progress=False)
    empty = tmp_path / "empty"
    (empty / "train" / "cat").mkdir(parents=True)
    (empty / "train" / "cat" / "notes.txt").write_text("hi")
    with pytest.raises(BadInput, match="holds no image files"):
        load_images(store, "x", empty, encoder="pixels", progress=False)
    with pytest.raises(BadInput, match="--labels"):
        load_images(store, "x", root, encoder="pixels", labels="maybe", progress=False)
    with pytest.raises(BadInput, match="Unknown encoder"):
        load_images(store, "x", root, encoder="nope", progress=False)
    with pytest.raises(NotFound):
        store.registry.get("x")
    nothing = load_images(
        store, "x", root, encoder="pixels@size=8", limit=0, progress=False, failure_log=tmp_path / "f"
    )
    assert (nothing.loaded, nothing.failed, store.registry.count_rows("x")) == (0, 0, 0)
    with pytest.raises(BadInput, match="was loaded with encoder pixels@size=8"):
        load_images(store, "x", root, encoder="pixels", progress=False)


def test_tiny_clip_encodes_a_folder(clip_store, folder, tmp_path):
    root, exact, failing = folder
    summary = load_images(clip_store, "clipped", root, encoder="clip", progress=False, failure_log=tmp_path / "f")
    assert summary.loaded == len(exact) + 7 and summary.failed == len(failing)
    info = clip_store.registry.get("clipped")
    assert (info["encoder"], info["dim"], info["rows"]) == ("clip", PROJECTION_DIM, len(exact) + 7)
    vectors = np.array([r[0] for r in clip_store.client.query("SELECT vector FROM items_clipped").result_rows])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    layer = load_images(
        clip_store, "layered", root, encoder="clip@layer=2", limit=4, progress=False, failure_log=tmp_path / "f"
    )
    assert layer.loaded == 4 and clip_store.registry.get("layered")["dim"] == VISION_HIDDEN


def test_cli_load_images(store, folder, tmp_path, monkeypatch):
    root, exact, failing = folder
    monkeypatch.setattr(Context, "store", lambda self, command="vectrain": store)
    runner = CliRunner()
    args = ["load", "images", "cli", str(root), "--encoder", "pixels", "--failure-log", str(tmp_path / "f.tsv")]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    assert f"loaded {len(exact) + 7}" in r.output and f"failed {len(failing)}" in r.output
    assert "failed: train/odd/notes.jpg" in r.output and "note: ignored 1 files" in r.output
    r = runner.invoke(main, ["--json", *args])
    body = json.loads(r.stdout[r.stdout.index("{") :])
    assert (body["loaded"], body["skipped"]) == (0, len(exact) + 7)
    r = runner.invoke(main, ["load", "images", "cli", str(tmp_path / "missing"), "--encoder", "pixels"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    r = runner.invoke(main, ["load", "images", "cli", str(root), "--labels", "sometimes"])
    assert r.exit_code == 2 and "sometimes" in r.output
