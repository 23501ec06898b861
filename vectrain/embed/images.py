"""Decoding images safely, and the thumbnails stored for every item whose pixels a loader read.

Every image reaching the service (an upload, a file of a folder load, a CIFAR record) is
hostile until decoded: its size and mode are read from the header and bounded BEFORE the pixels
are decoded, by pixel count (a 140 KB PNG can hold 12000 x 12000 pixels = 1.2 GB decoded) and by
the bytes they take decoded (a 280 KB 6000 x 6000 RGBA PNG is 36M pixels, 144 MB decoded, and
cost 824 MB to make RGB), only the first frame is used, EXIF orientation is applied, and every
mode (CMYK, palette, 16-bit, alpha) becomes RGB. A large image is reduced by an integer factor
before it is converted when a smaller one is all the caller needs.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vectrain.core.errors import BadInput, TooLarge
from vectrain.storage.thumbnails import Thumbnail

# Formats vectrain reads; everything else is refused before decoding.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO")
ORIENTATION = 0x0112  # the EXIF tag
# Thumbnails at or below this long side are stored losslessly (PNG): digits, CIFAR.
LOSSLESS_MAX_SIDE = 64


class ImageError(BadInput):
    """The bytes are not an image vectrain can read (not an image, truncated, unsupported)."""

    code = "bad_image"


class ImageTooLarge(TooLarge):
    code = "image_too_large"


# Our own bound (in decode_image) says what was refused; Pillow's error above twice its limit
# stays. Set once for the process: catch_warnings is not thread-safe, and the folder loader
# decodes in a thread pool.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class Bounds:
    """What one image may cost: pixels (width x height) and bytes decoded."""

    pixels: int
    bytes: int

    @classmethod
    def of(cls, settings) -> Bounds:
        return cls(settings.max_image_pixels, settings.max_image_bytes)


def decoded_bytes(mode: str, width: int, height: int) -> int:
    """The bytes Pillow holds for an image of this mode and size: 1 a pixel for bilevel, grey
    and palette, 2 for 16-bit grey, 4 for the rest (RGB is stored in 4)."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel


# Modes Image.reduce takes: a large image is reduced in them before it is converted to RGB.
REDUCIBLE = ("L", "LA", "RGB", "RGBA", "RGBa", "La", "CMYK", "I", "F")


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # RGB, EXIF orientation applied
    width: int  # of the source as displayed (after orientation), before any reduction
    height: int
    format: str  # JPEG, PNG, ...


def open_image(
    source: bytes | str | Path | BinaryIO,
    bounds: Bounds,
    name: str = "the image",
    min_sides: tuple[int, int] | None = None,
) -> Image.Image:
    """An RGB image, EXIF orientation applied, first frame only; the pixel count and decoded
    bytes are checked from the header before any pixel is decoded. ImageError / ImageTooLarge
    otherwise."""
    return decode_image(source, bounds, name, min_sides).image


def decode_image(
    source: bytes | str | Path | BinaryIO,
    bounds: Bounds,
    name: str = "the image",
    min_sides: tuple[int, int] | None = None,
) -> Decoded:
    """open_image, with the source's size and format. With `min_sides` = (long, short), a large
    image is decoded or reduced by an integer factor while its long side stays >= long and its
    short side >= short (a JPEG at 1/2, 1/4 or 1/8 scale in the decoder itself): all a thumbnail
    and an encoder need, at a fraction of the cost."""
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        image = Image.open(handle, formats=FORMATS)
        width, height = image.size
        fmt = image.format or ""
        if width < 1 or height < 1:
            raise ImageError(f"{name} has no pixels ({width} x {height})")
        if width * height > bounds.pixels:
            raise ImageTooLarge(
                f"{name} is {width} x {height} pixels; at most {bounds.pixels:,} pixels "
                "are decoded (VECTRAIN_MAX_IMAGE_PIXELS)"
            )
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        if min_sides:
            image.draft(None, _oriented(min_sides, image.size))  # JPEG only: decodes at 1/2, 1/4, 1/8
        cost = decoded_bytes(image.mode, *image.size)  # after draft: what the decoder will allocate
        if cost > bounds.bytes:
            raise ImageTooLarge(
                f"{name} is {width} x {height} pixels of mode {image.mode}: {cost / 1e6:.0f} MB decoded; at most "
                f"{bounds.bytes / 1e6:.0f} MB are decoded (VECTRAIN_MAX_IMAGE_BYTES)"
            )
        image.load()
        if image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8):
            width, height = height, width
        if min_sides and image.mode in REDUCIBLE:  # reduce before the copies of orienting and converting
            image = _reduced(image, min_sides)
        image = to_rgb(ImageOps.exif_transpose(image) or image)
        if min_sides:
            image = _reduced(image, min_sides)
        return Decoded(image, width, height, fmt)
    except (ImageError, ImageTooLarge):
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            f"{name} has too many pixels to decode safely; at most {bounds.pixels:,} pixels "
            "are decoded (VECTRAIN_MAX_IMAGE_PIXELS)"
        ) from None
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        TypeError,
        IndexError,
        KeyError,
        ZeroDivisionError,
        MemoryError,
    ) as exc:
        # Pillow's plugins raise many types on corrupt input; none of them is the caller's fault
        # in a way that deserves more than one clear line.
        reason = (
            "truncated or corrupt"
            if isinstance(exc, OSError) and "truncated" in str(exc)
            else "not an image vectrain can read (JPEG, PNG, WebP, GIF, TIFF or BMP)"
        )
        raise ImageError(f"{name} is {reason}") from None


def _reduced(image: Image.Image, min_sides: tuple[int, int]) -> Image.Image:
    """Reduced by the largest integer factor that keeps the (long, short) minimum sides."""
    wanted = _oriented(min_sides, image.size)
    factor = min(image.size[0] // wanted[0], image.size[1] // wanted[1])
    return image.reduce(factor) if factor >= 2 else image


def _oriented(sides: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """(long, short) minimums as (width, height) minimums for an image of this size."""
    long_side, short_side = max(1, sides[0]), max(1, sides[1])
    return (long_side, short_side) if size[0] >= size[1] else (short_side, long_side)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode: alpha composited on white, palette expanded, CMYK converted, 16-bit and
    float scaled to 8 bits."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        if mode == "F" or arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
            low, high = (0.0, 65535.0) if mode.startswith("I;16") else (float(arr.min()), float(arr.max()))
            arr = (arr - low) / max(high - low, 1e-12) * 255.0
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L").convert("RGB")
    if mode in ("P", "PA"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        # Pasted on white through its alpha: one RGB image and the alpha band, not three RGBA copies.
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


# WebP effort: method 0 encodes a 256-px thumbnail about 5x faster than method 4 (the default)
# for files about 10% larger; folder loads spend most of their time making thumbnails.
WEBP = {"quality": 82, "method": 0}


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The image with its long side at most max_side (aspect kept; never enlarged)."""
    if max(image.size) <= max_side:
        return image
    image = image.copy()
    # reducing_gap=1: first an integer box reduction, then at most 2x with an antialiased bilinear
    # (triangle) filter: a 640-px photo is halved, then 320 -> 256. About a third of the work of
    # bicubic from 640, and indistinguishable at thumbnail size.
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
    return image


def make_thumbnail(image: Image.Image, max_side: int) -> Thumbnail:
    """A thumbnail of an RGB (or L) image: lossless PNG when small enough to keep every pixel
    (digits, CIFAR), WebP otherwise."""
    image = shrink(image if image.mode in ("RGB", "L") else to_rgb(image), max_side)
    buf = io.BytesIO()
    if max(image.size) <= LOSSLESS_MAX_SIDE:
        image.save(buf, format="PNG")  # optimize=True costs 20x the time for ~no gain at this size
        fmt = "png"
    else:
        image.save(buf, format="WEBP", **WEBP)
        fmt = "webp"
    return Thumbnail(buf.getvalue(), fmt, image.size[0], image.size[1])


def resize_thumbnail(thumb: Thumbnail, size: int) -> Thumbnail:
    """The stored thumbnail at `size` on its long side. Tiny images (digits, CIFAR) are scaled
    up with nearest neighbour so their pixels stay sharp; larger ones only ever scale down."""
    if max(thumb.width, thumb.height) == size:
        return thumb
    image = Image.open(io.BytesIO(thumb.data))
    image.load()
    small = max(image.size) <= LOSSLESS_MAX_SIDE
    if not small and size >= max(image.size):
        return thumb
    scale = size / max(image.size)
    target = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    resample = Image.Resampling.NEAREST if small and scale > 1 else Image.Resampling.LANCZOS
    image = image.convert("RGB").resize(target, resample)
    buf = io.BytesIO()
    if small:
        image.save(buf, format="PNG")
        fmt = "png"
    else:
        image.save(buf, format="WEBP", **WEBP)
        fmt = "webp"
    return Thumbnail(buf.getvalue(), fmt, target[0], target[1])
