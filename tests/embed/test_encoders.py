import io

import numpy as np
import pytest
from PIL import Image

from tests.tiny_clip import PROJECTION_DIM, VISION_HIDDEN, VISION_LAYERS
from vectrain.core.config import Settings
from vectrain.core.errors import BadInput
from vectrain.embed.encoders import ModelUnavailable, encoder_for, get_encoder, parse_spec
from vectrain.loaders.cifar import load_cifar
from vectrain.loaders.cifar_archive import write_archive


def random_images(n, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size + 8 * (i % 2), 3), dtype=np.uint8)) for i in range(n)]


def test_clip_image_and_text_features(tiny_clip):
    enc = get_encoder("clip", Settings(clip_model=str(tiny_clip)))
    assert (enc.name, enc.dim, enc.has_text, enc.model) == ("clip", PROJECTION_DIM, True, str(tiny_clip))
    images = enc.encode_images(random_images(5))
    texts = enc.encode_texts(["dogs in the snow", "a cat", "the"])
    for v, n in ((images, 5), (texts, 3)):
        assert v.dtype == np.float32 and v.shape == (n, PROJECTION_DIM)
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(images[0], images[1])
    # batching does not change the answer; the loaded model is cached per (spec, model)
    small = get_encoder("clip", Settings(clip_model=str(tiny_clip), encode_batch_size=2))
    np.testing.assert_allclose(small.encode_images(random_images(5)), images, atol=1e-5)
    assert get_encoder("clip", Settings(clip_model=str(tiny_clip))) is enc


def test_clip_intermediate_layer(tiny_clip):
    settings = Settings(clip_model=str(tiny_clip))
    enc = get_encoder("clip@layer=2", settings)
    assert (enc.name, enc.dim, enc.has_text) == ("clip@layer=2", VISION_HIDDEN, False)
    v = enc.encode_images(random_images(3))
    assert v.shape == (3, VISION_HIDDEN)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(v, get_encoder(f"clip@layer={VISION_LAYERS}", settings).encode_images(random_images(3)))
    with pytest.raises(BadInput, match="no text side"):
        enc.encode_texts(["a dog"])
    with pytest.raises(BadInput, match=f"layers 1..{VISION_LAYERS}"):
        get_encoder(f"clip@layer={VISION_LAYERS + 1}", settings)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("resnet", "Unknown encoder"),
        ("clip@layer=x", "integer"),
        ("clip@depth=2", "one option"),
        ("pixels@size=0", "size=N"),
    ],
)
def test_bad_specs(tiny_clip, spec, words):
    with pytest.raises(BadInput, match=words):
        get_encoder(spec, Settings(clip_model=str(tiny_clip)))


def test_parse_spec():
    assert parse_spec("clip@layer=6") == ("clip", {"layer": "6"})


def test_missing_model_is_one_clear_line(tmp_path):
    with pytest.raises(ModelUnavailable) as e:
        get_encoder("clip", Settings(clip_model=str(tmp_path / "nowhere")))
    assert "no such directory" in e.value.message and "\n" not in e.value.message
    with pytest.raises(ModelUnavailable) as e:  # a folder without a saved model
        get_encoder("clip", Settings(clip_model=str(tmp_path)))
    assert "save_pretrained" in e.value.message and "\n" not in e.value.message


def test_pixels_array_fast_path_matches_pil():
    enc = get_encoder("pixels")
    arrays = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        enc.encode_arrays(arrays), enc.encode_images([Image.fromarray(a) for a in arrays]), atol=1e-6
    )


@pytest.fixture
def clip_dataset(clip_store, tmp_path):
    rng = np.random.default_rng(3)
    names = ["airplane", "dog"]
    data = rng.integers(0, 256, (30, 3072), dtype=np.uint8)
    archive = write_archive(
        tmp_path / "c.tar.gz",
        "cifar10",
        {"train": (data, rng.integers(0, 2, 30)), "test": (data[:5], rng.integers(0, 2, 5))},
        names,
    )
    summary = load_cifar(clip_store, "pics", "cifar10", archive, encoder="clip", progress=False)
    assert summary.loaded == 35
    return data


def test_text_search_over_api(api, clip_store, clip_dataset):
    info = clip_store.registry.get("pics")
    assert (info["encoder"], info["dim"], info["model"]) == (
        "clip",
        PROJECTION_DIM,
        clip_store.settings.model_dump()["clip_model"],
    )
    r = api.post("/datasets/pics/search", json={"text": "dogs in the snow", "k": 5})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 5 and all(i["label"] in ("airplane", "dog") for i in items)
    # the same vector as the encoder gives directly
    q = encoder_for(info, clip_store.settings).encode_texts(["dogs in the snow"])[0]
    direct = api.post("/datasets/pics/search", json={"vector": q.tolist(), "k": 5}).json()["items"]
    assert [i["id"] for i in direct] == [i["id"] for i in items]
    r = api.post("/datasets/pics/search", json={"text": "  ", "k": 5})
    assert r.status_code == 400 and "empty" in r.json()["detail"]


def test_image_upload_search(api, clip_dataset):
    image = Image.fromarray(clip_dataset[7].reshape(3, 32, 32).transpose(1, 2, 0))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    r = api.post(
        "/datasets/pics/search/image",
        files={"file": ("q.png", buf.getvalue(), "image/png")},
        data={"k": "3", "exact": "true"},
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["id"] == "train-00007" and items[0]["score"] > 0.999
    r = api.post(
        "/datasets/pics/search/image",
        files={"file": ("q.png", buf.getvalue(), "image/png")},
        data={"k": "3", "exact": "true", "exclude_ids": ["train-00007"]},
    )
    assert "train-00007" not in [i["id"] for i in r.json()["items"]] and len(r.json()["items"]) == 3
    r = api.post("/datasets/pics/search/image", files={"file": ("q.txt", b"not an image", "text/plain")})
    assert r.status_code == 400 and "not an image" in r.json()["detail"]


def test_text_search_needs_a_text_encoder(api, store, tmp_path):
    rng = np.random.default_rng(0)
    archive = write_archive(
        tmp_path / "c.tar.gz",
        "cifar10",
        {"train": (rng.integers(0, 256, (10, 3072), dtype=np.uint8), rng.integers(0, 2, 10))},
        ["a", "b"],
    )
    load_cifar(store, "px", "cifar10", archive, split="train", encoder="pixels", progress=False)
    r = api.post("/datasets/px/search", json={"text": "dogs in the snow"})
    assert r.status_code == 400 and "no text side" in r.json()["detail"]
    r = api.post("/datasets/px/search", json={"text": "dogs", "item_id": "train-00001"})
    assert r.status_code == 400 and "exactly one" in r.json()["detail"]
