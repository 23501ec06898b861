"""Encoders turn images (PIL) and, where they can, texts into float32 [n, d] unit vectors.

An encoder is named by a spec string recorded in the datasets registry (with its model):
  pixels             images resized to 32x32 RGB, flattened, L2-normalized (3,072 dims)
  pixels@size=N      the same at N x N
  clip               CLIP image/text embeddings (projection dim, 512 for ViT-B/32) from
                     settings.clip_model: a hub id or a local directory made by save_pretrained
  clip@layer=N       the mean over tokens of vision transformer block N's output (1..layers),
                     the CIFAR paper's "intermediate stage"; image-only (no text side)

Every encoder has: name (its spec), model, dim, has_text, encode_images(list of PIL images),
encode_texts(list of str), encode_arrays(uint8 [n, h, w, 3]). Other modules get the encoder of
a dataset with `encoder_for(info)` (info = store.registry.get(name)) and embed prompts with
`encoder_for(info).encode_texts([...])`, or `get_encoder(spec).encode_texts([...])`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from vectrain.core.config import Settings, get_settings
from vectrain.core.errors import BadInput, ModelUnavailable
from vectrain.core.vectors import as_unit_vectors


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


def _to_pil(arrays: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(np.ascontiguousarray(a), mode="RGB") for a in arrays]


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

    def encode_arrays(self, arrays: np.ndarray) -> np.ndarray:
        """uint8 [n, h, w, 3] RGB. At the encoder's size this is exactly encode_images of the
        same pixels without a PIL round trip per image (the bulk loaders' fast path)."""
        arrays = np.asarray(arrays)
        if arrays.ndim != 4 or arrays.shape[3] != 3:
            raise BadInput(f"images: expected uint8 [n, h, w, 3], got shape {arrays.shape}")
        if arrays.shape[1:3] != (self.size, self.size):
            return self.encode_images(_to_pil(arrays))
        if len(arrays) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return as_unit_vectors(arrays.reshape(len(arrays), -1).astype(np.float32), what="pixels")

    def encode_texts(self, texts) -> np.ndarray:
        raise BadInput("The pixels encoder has no text side: search this dataset by vector, item or image.")


# -- CLIP ----------------------------------------------------------------------------------------
def _device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting not in ("cpu", "cuda") and not setting.startswith("cuda:"):
        raise BadInput(f"VECTRAIN_DEVICE={setting!r}: use auto, cpu or cuda")
    return setting


def _is_path(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or Path(model_id).is_dir()


def check_model_available(model_id: str, settings: Settings) -> None:
    """ModelUnavailable at once when loading `model_id` would need the network and
    VECTRAIN_ALLOW_MODEL_DOWNLOAD is off: a hub id whose weights are not in the local cache.
    Cheap (a look in the cache, nothing loaded): a load request checks it before its job."""
    if _is_path(model_id) or settings.allow_model_download:
        return
    import huggingface_hub

    if not isinstance(huggingface_hub.try_to_load_from_cache(model_id, "config.json"), str):
        raise _not_downloaded(model_id)


def _not_downloaded(model_id: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"The CLIP model {model_id!r} is not on this machine, and downloading it is off "
        "(VECTRAIN_ALLOW_MODEL_DOWNLOAD): point VECTRAIN_CLIP_MODEL at a directory saved with "
        "save_pretrained, or run the CLI once with VECTRAIN_ALLOW_MODEL_DOWNLOAD=true to fetch it into the "
        "cache."
    )


@lru_cache(maxsize=4)
def _load_clip(model_id: str, device: str, allow_download: bool = False):
    """(model, image processor, tokenizer), loaded once per process and shared by every
    encoder spec on the same weights (the API must not reload per request). Nothing reaches the
    network unless `allow_download` (VECTRAIN_ALLOW_MODEL_DOWNLOAD): local files only."""
    import transformers
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    if model_id.startswith(("/", "./", "../", "~")) and not Path(model_id).expanduser().is_dir():
        raise ModelUnavailable(
            f"VECTRAIN_CLIP_MODEL={model_id!r}: no such directory. Point it at a directory "
            "holding a CLIP model saved with save_pretrained, or at a hub id."
        )
    model_id = str(Path(model_id).expanduser()) if model_id.startswith("~") else model_id
    local = Path(model_id).is_dir()
    offline = {"local_files_only": local or not allow_download}
    import huggingface_hub

    # Offline unless allowed: local_files_only alone still lets the hub library reach the network
    # (it fetched an "agent harness" registry from the hub while building request headers), and its
    # telemetry is never wanted.
    was_offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY = True
    huggingface_hub.constants.HF_HUB_OFFLINE = was_offline or local or not allow_download
    verbosity = transformers.logging.get_verbosity()
    hub_verbosity = huggingface_hub.utils.logging.get_verbosity()
    huggingface_hub.utils.logging.set_verbosity_error()  # no retry chatter: one line if it fails
    transformers.logging.set_verbosity_error()  # one-time load chatter (torchvision fallback, bars)
    transformers.utils.logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CLIPModel.from_pretrained(model_id, **offline)
            image_processor = CLIPImageProcessor.from_pretrained(model_id, **offline)
            tokenizer = CLIPTokenizer.from_pretrained(model_id, **offline)
    except Exception as exc:  # OSError offline / missing files; ValueError for a non-CLIP config
        if not local and not allow_download:
            raise _not_downloaded(model_id) from None
        reason = " ".join(str(exc).split())[:160]
        raise ModelUnavailable(
            f"Cannot load the CLIP model {model_id!r} ({type(exc).__name__}: {reason}). "
            + (
                "That directory must hold a CLIP model, tokenizer and image processor saved with save_pretrained."
                if local
                else "Offline? On a machine with network, save CLIPModel and CLIPProcessor with "
                ".save_pretrained(DIR), copy DIR here and set VECTRAIN_CLIP_MODEL=DIR."
            )
        ) from None
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE = was_offline
        transformers.logging.set_verbosity(verbosity)
        huggingface_hub.utils.logging.set_verbosity(hub_verbosity)
        transformers.utils.logging.enable_progress_bar()
    model.eval().to(device)
    return model, image_processor, tokenizer


def _features(out):
    """get_*_features returns a tensor in transformers 4.x and an output object in some 5.x
    versions (projected embeddings in image_embeds/text_embeds or pooler_output)."""
    import torch

    if torch.is_tensor(out):
        return out
    for key in ("image_embeds", "text_embeds", "pooler_output"):
        value = getattr(out, key, None)
        if value is not None:
            return value
    raise TypeError(f"unexpected CLIP features output {type(out).__name__}")


class ClipEncoder:
    def __init__(
        self,
        model_id: str,
        layer: int | None = None,
        device: str = "auto",
        batch_size: int = 64,
        allow_download: bool = False,
    ):
        self.model = model_id
        self.layer = layer
        self.batch_size = max(1, int(batch_size))
        self.device = _device(device)
        self._model, self._images, self._tokenizer = _load_clip(model_id, self.device, allow_download)
        vision = self._model.config.vision_config
        if layer is not None and not 1 <= layer <= vision.num_hidden_layers:
            raise BadInput(f"Encoder clip@layer={layer}: {model_id} has vision layers 1..{vision.num_hidden_layers}")
        self.dim = int(vision.hidden_size if layer is not None else self._model.config.projection_dim)
        self.has_text = layer is None  # an intermediate vision layer has no text counterpart
        self.max_text_tokens = int(self._model.config.text_config.max_position_embeddings)

    @property
    def name(self) -> str:
        return "clip" if self.layer is None else f"clip@layer={self.layer}"

    def _batches(self, items):
        for start in range(0, len(items), self.batch_size):
            yield items[start : start + self.batch_size]

    def encode_images(self, images) -> np.ndarray:
        import torch

        images = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        out = []
        with torch.inference_mode():
            for chunk in self._batches(images):
                pixels = self._images(images=chunk, return_tensors="pt")["pixel_values"].to(self.device)
                if self.layer is None:
                    feats = _features(self._model.get_image_features(pixel_values=pixels))
                else:
                    hidden = self._model.vision_model(pixel_values=pixels, output_hidden_states=True).hidden_states
                    feats = hidden[self.layer].mean(dim=1)  # hidden_states[0] is the embeddings
                out.append(feats.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return as_unit_vectors(np.concatenate(out), dim=self.dim, what=f"{self.name} features")

    def encode_arrays(self, arrays: np.ndarray) -> np.ndarray:
        return self.encode_images(_to_pil(np.asarray(arrays)))

    def encode_texts(self, texts) -> np.ndarray:
        import torch

        if not self.has_text:
            raise BadInput(
                f"The {self.name} encoder is an intermediate image layer and has no text side: "
                "search this dataset by vector, item or image."
            )
        texts = [str(t) for t in texts]
        if any(not t.strip() for t in texts):
            raise BadInput("text: empty text has nothing to search for")
        out = []
        with torch.inference_mode():
            for chunk in self._batches(texts):
                tokens = self._tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
                ).to(self.device)
                feats = _features(
                    self._model.get_text_features(
                        input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                    )
                )
                out.append(feats.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return as_unit_vectors(np.concatenate(out), dim=self.dim, what="clip text features")


# -- lookup ----------------------------------------------------------------------------------------
ENCODERS_HELP = "pixels, pixels@size=N, clip or clip@layer=N"


def get_encoder(spec: str, settings: Settings | None = None, model: str | None = None):
    """The encoder named by `spec`; CLIP weights come from `model` or settings.clip_model.
    Cached per (spec, model, device): repeated calls return the same loaded encoder."""
    settings = settings or get_settings()
    name, _ = parse_spec(spec)
    model = (model or settings.clip_model) if name == "clip" else ""
    return _cached_encoder(
        spec.strip(), model, settings.device, settings.encode_batch_size, settings.allow_model_download
    )


@lru_cache(maxsize=16)
def _cached_encoder(spec: str, model: str, device: str, batch_size: int, allow_download: bool = False):
    name, options = parse_spec(spec)
    if name == "pixels":
        try:
            size = int(options.pop("size", 32))
        except ValueError:
            raise BadInput(f"Encoder {spec!r}: size must be an integer") from None
        if options or not 1 <= size <= 512:
            raise BadInput(f"Encoder {spec!r}: pixels takes one option, size=N (1..512)")
        return PixelsEncoder(size=size)
    if name == "clip":
        layer = options.pop("layer", None)
        if options:
            raise BadInput(f"Encoder {spec!r}: clip takes one option, layer=N")
        if layer is not None:
            try:
                layer = int(layer)
            except ValueError:
                raise BadInput(f"Encoder {spec!r}: layer must be an integer") from None
        return ClipEncoder(model, layer=layer, device=device, batch_size=batch_size, allow_download=allow_download)
    raise BadInput(
        f"Unknown encoder {spec!r}: use {ENCODERS_HELP}. (Vectors loaded from files, e.g. "
        "encoder 'features', have no encoder to embed a text or image with.)"
    )


def encoder_for(info: dict, settings: Settings | None = None):
    """The encoder a dataset was loaded with (its registry row: `encoder`, `model`), e.g. to
    embed a text query or label prompts in the same space as its rows."""
    spec = info.get("encoder") or ""
    name, _ = parse_spec(spec)
    if name not in ("pixels", "clip"):
        raise BadInput(
            f"Dataset {info.get('name')!r} holds vectors made by {spec!r}, not by a vectrain encoder "
            f"({ENCODERS_HELP}), so no text or image can be embedded in its space: "
            "search it by vector or item instead."
        )
    return get_encoder(spec, settings, model=info.get("model") or None)


def text_vectors(info: dict, texts, settings: Settings | None = None) -> np.ndarray:
    """Unit vectors of `texts` in the space of the dataset `info` (BadInput if it has no text side)."""
    encoder = encoder_for(info, settings)
    if not encoder.has_text:
        raise BadInput(
            f"Dataset {info.get('name')!r} was encoded with {encoder.name}, which has no text side: "
            "search it by vector, item or image, or load it with --encoder clip."
        )
    return encoder.encode_texts(list(texts))


def check_dataset_encoder(store, dataset: str, encoder) -> None:
    """Refuse, before reading any input, to add rows made by a different encoder or model (or of
    another dimension) to an existing dataset."""
    store.registry.check_compatible(dataset, encoder.dim, encoder.name, encoder.model)
