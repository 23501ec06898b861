"""Images are bounded by what they cost decoded (width x height x the bytes of a pixel of their
mode, read from the header), not only by their pixel count."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vectrain.embed.images import Bounds, ImageTooLarge, decode_image


def png16_rgba(width: int, height: int) -> bytes:
    """A 16-bit RGBA PNG of zeros: a few hundred KB for 6000 x 6000 (the review's file)."""
    raw = b"".join(b"\x00" + bytes(width * 8) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png16_rgba(6000, 6000)
    assert len(data) < 400_000
    return data


def test_the_reviews_png_is_refused_from_its_header(bomb, settings):
    bounds = Bounds.of(settings)
    assert 6000 * 6000 <= bounds.pixels  # under the pixel bound: the bytes refuse it
    rss = peak_mb()
    Path("/proc/self/clear_refs").write_text("5")
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(bomb, bounds, name="bomb.png")
    assert peak_mb() - min(rss, peak_mb()) < 100  # nothing was decoded
    assert "6000 x 6000" in refused.value.message and "VECTRAIN_MAX_IMAGE_BYTES" in refused.value.message


def test_an_upload_over_the_bytes_is_413(api, store, bomb):
    from vectrain.loaders.writer import DatasetWriter

    writer = DatasetWriter(store, "px", 192, "pixels@size=8", progress=False)
    writer.write(ids=["a", "b"], vectors=np.eye(2, 192, dtype=np.float32))
    writer.finish()
    r = api.post("/datasets/px/search/image", files={"file": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and r.json()["code"] == "image_too_large", r.text
    assert "VECTRAIN_MAX_IMAGE_BYTES" in r.json()["detail"]
    assert api.get("/health").status_code == 200


def test_large_images_under_the_bound_still_decode(settings):
    rgba = np.zeros((1500, 2000, 4), dtype=np.uint8)
    rgba[:, :1000] = (255, 0, 0, 255)  # left half opaque red, right half transparent
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    decoded = decode_image(buf.getvalue(), Bounds.of(settings), min_sides=(256, 224))
    assert (decoded.width, decoded.height) == (2000, 1500)
    small = np.asarray(decoded.image)
    assert decoded.image.mode == "RGB" and min(small.shape[:2]) >= 224
    assert tuple(small[10, 10]) == (255, 0, 0) and tuple(small[10, -10]) == (255, 255, 255)  # alpha on white
    full = decode_image(buf.getvalue(), Bounds.of(settings))
    assert full.image.size == (2000, 1500)
