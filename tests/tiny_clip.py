"""A tiny CLIP (random weights, a tiny byte-level BPE tokenizer, 32x32 images) saved with
save_pretrained, so tests load it through the same from_pretrained path as the real model."""

from __future__ import annotations

import json
from pathlib import Path

PROJECTION_DIM = 24
VISION_HIDDEN = 48
VISION_LAYERS = 3

# A few merges so common words become single tokens; everything else falls back to bytes.
MERGES = [
    ("d", "o"),
    ("do", "g</w>"),
    ("c", "a"),
    ("ca", "t</w>"),
    ("s", "n"),
    ("sn", "o"),
    ("sno", "w</w>"),
    ("t", "h"),
    ("th", "e</w>"),
    ("i", "n</w>"),
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_tokenizer_files(folder: Path) -> dict[str, int]:
    chars = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars] + [a + b for a, b in MERGES]:
        vocab.setdefault(token, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    return vocab


def build_tiny_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_tokenizer_files(folder)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))  # reads the vocab.json + merges.txt above
    eos, bos = vocab["<|endoftext|>"], vocab["<|startoftext|>"]
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=32,
            eos_token_id=eos,
            bos_token_id=bos,
            pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=VISION_HIDDEN,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=PROJECTION_DIM,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    import sys

    print(build_tiny_clip(Path(sys.argv[1])))
