"""A CLIP dataset in a real headless Chromium: search by text and by an uploaded image, and a
session started from a text prompt."""

from __future__ import annotations

import uuid

import numpy as np

from tests.web.pages import no_page_errors, skip_without_a_browser, tile_ids, tiles, wait

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def test_clip_dataset_text_and_image_search_and_a_prompt_session(live, driver, web_store, tiny_clip, tmp_path):
    import httpx
    from PIL import Image

    from vectrain.embed.encoders import get_encoder
    from vectrain.loaders.writer import DatasetWriter

    encoder = get_encoder("clip", web_store.settings, model=str(tiny_clip))
    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)) for _ in range(24)]
    ids = [f"pic-{i:02d}" for i in range(len(images))]
    writer = DatasetWriter(web_store, "pics", encoder.dim, "clip", model=str(tiny_clip), total=len(ids), progress=False)
    writer.write(ids=ids, vectors=encoder.encode_images(images), labels=["noise"] * len(ids), urls=[""] * len(ids))
    writer.finish()

    d = driver
    d.get("about:blank")
    d.get(f"{live.url}#d=pics&t=find")
    wait(
        d,
        lambda d: (
            d.find_element(By.ID, "dataset-select").get_attribute("value") == "pics"
            and d.find_element(By.ID, "text-query").is_enabled()
            and d.find_element(By.ID, "text-query").is_displayed()
            and len(tiles(d, "find-grid")) == len(ids)
        ),
        what="the CLIP dataset",
    )

    # By an uploaded image: the item whose pixels were uploaded comes first.
    upload = tmp_path / "query.png"
    images[7].save(upload)
    d.find_element(By.ID, "image-file").send_keys(str(upload))
    d.find_element(By.CSS_SELECTOR, "#image-search button[type=submit]").click()
    wait(d, lambda d: d.find_element(By.ID, "find-title").text.startswith("Like query.png"), what="image search")
    assert tile_ids(d, "find-grid")[0] == "pic-07"

    # By text: the page shows what the API returns, in its order.
    box = d.find_element(By.ID, "text-query")
    box.send_keys("a dog in the snow", Keys.ENTER)
    wait(d, lambda d: "a dog in the snow" in d.find_element(By.ID, "find-title").text, what="text search")
    expected = httpx.post(f"{live.url}datasets/pics/search", json={"text": "a dog in the snow", "k": 30}).json()
    assert tile_ids(d, "find-grid") == [i["id"] for i in expected["items"]]

    # A session from a prompt: its starting weights are the prompt's text embedding.
    name = f"dogs_{uuid.uuid4().hex[:6]}"
    d.find_element(By.ID, "session-name").clear()
    d.find_element(By.ID, "session-name").send_keys(name)
    d.find_element(By.ID, "start-prompt").send_keys("a dog in the snow", Keys.ENTER)
    wait(
        d,
        lambda d: (
            d.execute_script("return window.vectrain.state.session?.name") == name
            and d.find_element(By.ID, "label-grid").is_displayed()
            and len(tiles(d, "label-grid")) == 10
        ),
        what="the prompt session's first batch",
    )
    session_id = d.execute_script("return window.vectrain.state.session.id")
    info = httpx.get(f"{live.url}sessions/{session_id}").json()
    assert info["source"] == "prompt" and info["prompt"] == "a dog in the snow" and info["name"] == name
    weights = httpx.get(f"{live.url}sessions/{session_id}/weights").json()["weights"]
    np.testing.assert_allclose(weights, encoder.encode_texts(["a dog in the snow"])[0], atol=1e-5)
    no_page_errors(d)
