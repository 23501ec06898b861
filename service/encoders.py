"""Encoders turn images (PIL) and, where they can, texts into float32 [n, d] unit vectors.

An encoder is named by a spec string recorded in the datasets registry:
  pixels             images resized to 32x32 RGB, flattened, L2-normalized (3,072 dims)
  pixels@size=N      the same at N x N
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.config import Settings, get_settings
from service.errors import BadInput
from service.vectors import as_unit_vectors


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """'clip@layer=6' -> ('clip', {'layer': '6'})."""
    name, _, rest = spec.partition("@")
    options = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise BadInput(f"Encoder {spec!r}: options are key=value, e.g. clip@layer=6")
        options[key.strip()] = value.strip()
    return name.strip(), options


@dataclass
class PixelsEncoder:
    """The CIFAR paper's first stage: raw pixels as the embedding."""

    size: int = 32
    model: str = ""
    has_text: bool = False

    @property
    def name(self) -> str:
        return "pixels" if self.size == 32 else f"pixels@size={self.size}"

    @property
    def dim(self) -> int:
        return self.size * self.size * 3

    def encode_images(self, images) -> np.ndarray:
        arrays = []
        for image in images:
            image = image.convert("RGB")
            if image.size != (self.size, self.size):
                image = image.resize((self.size, self.size))
            arrays.append(np.asarray(image, dtype=np.float32).ravel())
        if not arrays:
            return np.zeros((0, self.dim), dtype=np.float32)
        return as_unit_vectors(np.stack(arrays), what="pixels")

    def encode_texts(self, texts) -> np.ndarray:
        raise BadInput("The pixels encoder has no text side: search this dataset by vector, item or image.")


def get_encoder(spec: str, settings: Settings | None = None):
    settings = settings or get_settings()
    name, options = parse_spec(spec)
    if name == "pixels":
        try:
            size = int(options.pop("size", 32))
        except ValueError:
            raise BadInput(f"Encoder {spec!r}: size must be an integer") from None
        if options or not 1 <= size <= 512:
            raise BadInput(f"Encoder {spec!r}: pixels takes one option, size=N (1..512)")
        return PixelsEncoder(size=size)
    raise BadInput(f"Unknown encoder {spec!r}: use pixels or pixels@size=N")
