"""Decoding images safely, and the thumbnails stored for every item whose pixels a loader read.

Every image reaching the service (an upload, a file of a folder load, a CIFAR record) is
hostile until decoded: the pixel count is read from the header and bounded BEFORE the pixels
are decoded (a 140 KB PNG can hold 12000 x 12000 pixels = 1.2 GB decoded), only the first frame
is used, EXIF orientation is applied, and every mode (CMYK, palette, 16-bit, alpha) becomes RGB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import BadInput, TooLarge

# Formats vectrain reads; everything else is refused before decoding.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO")
# Thumbnails at or below this long side are stored losslessly (PNG): digits, CIFAR.
LOSSLESS_MAX_SIDE = 64


class ImageError(BadInput):
    """The bytes are not an image vectrain can read (not an image, truncated, unsupported)."""

    code = "bad_image"


class ImageTooLarge(TooLarge):
    code = "image_too_large"


def open_image(source: bytes | str | Path | BinaryIO, max_pixels: int, name: str = "the image") -> Image.Image:
    """An RGB image, EXIF orientation applied, first frame only; the pixel count is checked from
    the header before any pixel is decoded. ImageError / ImageTooLarge otherwise."""
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with warnings.catch_warnings():
            # Our own bound (below) says what was refused; Pillow's error above twice its limit stays.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle, formats=FORMATS)
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageError(f"{name} has no pixels ({width} x {height})")
            if width * height > max_pixels:
                raise ImageTooLarge(f"{name} is {width} x {height} pixels; at most {max_pixels:,} pixels "
                                    "are decoded (VECTRAIN_MAX_IMAGE_PIXELS)")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            return to_rgb(image)
    except (ImageError, ImageTooLarge):
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{name} has too many pixels to decode safely; at most {max_pixels:,} pixels "
                            "are decoded (VECTRAIN_MAX_IMAGE_PIXELS)") from None
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError,
            KeyError, ZeroDivisionError, MemoryError) as exc:
        # Pillow's plugins raise many types on corrupt input; none of them is the caller's fault
        # in a way that deserves more than one clear line.
        reason = "truncated or corrupt" if isinstance(exc, OSError) and "truncated" in str(exc) else \
            "not an image vectrain can read (JPEG, PNG, WebP, GIF, TIFF or BMP)"
        raise ImageError(f"{name} is {reason}") from None


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
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    format: str  # png | webp | jpeg
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"


def make_thumbnail(image: Image.Image, max_side: int) -> Thumbnail:
    """A thumbnail of an RGB (or L) image: lossless PNG when small enough to keep every pixel
    (digits, CIFAR), WebP otherwise."""
    image = image if image.mode in ("RGB", "L") else to_rgb(image)
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if max(image.size) <= LOSSLESS_MAX_SIDE:
        image.save(buf, format="PNG")  # optimize=True costs 20x the time for ~no gain at this size
        fmt = "png"
    else:
        image.save(buf, format="WEBP", quality=82, method=4)
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
        image.save(buf, format="WEBP", quality=82, method=4)
        fmt = "webp"
    return Thumbnail(buf.getvalue(), fmt, target[0], target[1])
