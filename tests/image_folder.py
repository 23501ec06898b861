"""Image folders for tests and benchmarks: an ImageFolder tree of ordinary images plus every
kind of awkward file a real folder holds (CMYK, EXIF rotation, palette with transparency,
16-bit, multi-frame GIF/TIFF, truncated, not an image, a giant header, a symlink loop, ...)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels (and holds almost no data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def photo(rng, width: int, height: int) -> Image.Image:
    """A photo-like image: smooth colour gradients plus noise (compresses like a photo, unlike
    pure noise)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(0, 255, 3)
    slope = rng.uniform(-0.5, 0.5, (2, 3))
    img = base + x[..., None] * slope[0] * 255 / width + y[..., None] * slope[1] * 255 / height
    img += rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_special_files(root: Path, split: str = "train", label: str = "odd") -> dict[str, str]:
    """The awkward files under root/split/label (and a few elsewhere). Returns {id: what} of the
    files that must fail, keyed by their id (path relative to root)."""
    folder = root / split / label
    folder.mkdir(parents=True, exist_ok=True)
    rel = f"{split}/{label}"

    cmyk = Image.new("CMYK", (24, 16), (0, 255, 255, 0))  # red in CMYK
    cmyk.save(folder / "cmyk.jpg", quality=95)

    rotated = Image.new("RGB", (40, 20), RED)
    rotated.paste(BLUE, (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: the red half on top
    rotated.save(folder / "rotated.jpg", quality=95, exif=exif.tobytes())

    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 255, 0] + list(BLUE) + [0] * 762)
    palette.paste(0, (0, 0, 5, 10))  # left half index 0 (transparent), right half blue
    palette.save(folder / "palette.png", transparency=0)

    deep = np.tile(np.linspace(0, 65535, 16).astype(np.uint16), (8, 1))
    Image.fromarray(deep).save(folder / "deep16.png")

    frames = [Image.new("RGB", (12, 12), RED), Image.new("RGB", (12, 12), BLUE)]
    frames[0].save(folder / "frames.gif", save_all=True, append_images=frames[1:])
    frames[0].save(folder / "pages.tiff", save_all=True, append_images=frames[1:])
    Image.new("RGB", (12, 10), (10, 200, 30)).save(folder / "plain.bmp")

    buf = io.BytesIO()
    photo(np.random.default_rng(0), 200, 150).save(buf, format="JPEG", quality=90)
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (folder / "notes.jpg").write_text("these are my notes, not a picture\n")
    (folder / "giant.png").write_bytes(png_header_only(10_000, 5_000))  # 50 M pixels: over the bound
    (folder / "bomb.png").write_bytes(png_header_only(60_000, 60_000))  # 3.6 G pixels
    os.symlink("..", folder / "loop")  # a symlinked folder pointing up: a loop if followed
    os.symlink("nowhere.jpg", folder / "broken.jpg")
    os.mkfifo(folder / "pipe.jpg")  # opening it would block forever
    (root / "README.txt").write_text("not an image, ignored\n")
    (folder / ".hidden.jpg").write_text("hidden files are skipped")
    return {
        f"{rel}/truncated.jpg": "truncated",
        f"{rel}/notes.jpg": "not an image",
        f"{rel}/giant.png": "over the pixel bound",
        f"{rel}/bomb.png": "too many pixels",
        f"{rel}/broken.jpg": "broken symlink",
        f"{rel}/pipe.jpg": "not a regular file",
    }


def write_folder(
    root: Path,
    n: int,
    classes: int = 10,
    test_share: float = 0.2,
    seed: int = 0,
    sizes: tuple[int, int] = (320, 640),
    formats=("JPEG", "PNG", "WEBP"),
) -> dict[str, tuple[str, str]]:
    """n photo-like images in root/{train,test}/class{k}/, long side uniform in `sizes`, aspect
    4:3 or 3:4, formats in turn. Returns {id: (split, label)}."""
    rng = np.random.default_rng(seed)
    suffix = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
    out = {}
    for i in range(n):
        split = "test" if rng.random() < test_share else "train"
        label = f"class{i % classes}"
        long_side = int(rng.integers(sizes[0], sizes[1] + 1))
        w, h = (long_side, long_side * 3 // 4) if i % 3 else (long_side * 3 // 4, long_side)
        fmt = formats[i % len(formats)]
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        name = f"img{i:06d}.{suffix[fmt]}"
        options = {"JPEG": {"quality": 88}, "PNG": {}, "WEBP": {"quality": 85}}[fmt]
        photo(rng, w, h).save(folder / name, format=fmt, **options)
        out[f"{split}/{label}/{name}"] = (split, label)
    return out


def write_images(folder, n_per_class=3):
    from PIL import Image

    rng = np.random.default_rng(1)
    for split, label in (("train", "cat"), ("test", "dog")):
        (folder / split / label).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            pixels = rng.integers(30, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / split / label / f"{i}.png")
