"""Label sets: named lists of labels with one unit vector each, for zero-shot and the tourney.

A label's vector is the mean of its template prompts' text embeddings ("a photo of a {}"),
renormalized (CLIP's prompt ensembling), or a precomputed vector given by the caller.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import numpy as np

from vectrain.core.errors import BadInput, Conflict, LabelSetNotFound
from vectrain.core.names import validate_name
from vectrain.core.validation import check_count, check_text
from vectrain.core.vectors import as_unit_vectors
from vectrain.embed.encoders import get_encoder, text_vectors
from vectrain.storage import claims
from vectrain.storage.query import Query
from vectrain.storage.store import Store

MAX_LABELS = 1000  # one dotProduct per label per row in the zero-shot SQL
MAX_TEMPLATES = 64


@dataclass
class LabelSet:
    name: str
    labels: list[str]
    vectors: np.ndarray  # float32 [n_labels, dim], unit rows
    encoder: str = ""
    templates: tuple[str, ...] = ()
    source: str = "vectors"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def summary(self) -> dict:
        return {
            "name": self.name,
            "labels": self.labels,
            "dim": self.dim,
            "encoder": self.encoder,
            "templates": list(self.templates),
            "source": self.source,
        }


def check_labels(labels, settings) -> list[str]:
    if not isinstance(labels, (list, tuple)) or not labels:
        raise BadInput('A label set needs at least one label, e.g. "labels": ["cat", "dog"]')
    check_count(labels, "labels", MAX_LABELS)
    out = []
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise BadInput(f"Labels must be non-empty strings, got {label!r}")
        out.append(check_text(label, "labels", settings))
    dupes = sorted({x for x in out if out.count(x) > 1})
    if dupes:
        raise BadInput(f"Duplicate labels in the label set: {', '.join(dupes)}")
    return out


def embed_labels(
    labels: list[str], templates: list[str], encoder_spec: str, settings=None, model: str | None = None
) -> np.ndarray:
    """Mean of the normalized template embeddings per label, renormalized."""
    if not templates:
        templates = ["{}"]
    for t in templates:  # one {} and no other brace: nothing else for str.format to read
        if not isinstance(t, str) or t.count("{") != 1 or t.count("}") != 1 or "{}" not in t:
            raise BadInput(f"Template {t!r} must contain exactly one {{}} where the label goes, and no other braces")
    encoder = get_encoder(encoder_spec, settings, model=model)
    if not encoder.has_text:
        raise BadInput(f'Encoder {encoder.name!r} has no text side: give precomputed "vectors" instead')
    texts = [t.format(label) for label in labels for t in templates]
    emb = as_unit_vectors(encoder.encode_texts(texts), what="text embeddings")
    mean = emb.reshape(len(labels), len(templates), -1).mean(axis=1)
    return as_unit_vectors(mean, what="label embeddings")


def create(
    store: Store,
    name: str,
    labels,
    templates=None,
    vectors=None,
    encoder: str | None = None,
    dataset: str | None = None,
) -> LabelSet:
    """Embed (or take) the label vectors and store them; Conflict if the name is taken."""
    validate_name(name, what="label set")
    labels = check_labels(labels, store.settings)
    templates = [check_text(t, "templates", store.settings) for t in (templates or [])]
    check_count(templates, "templates", MAX_TEMPLATES)
    if vectors is not None:
        if templates:
            raise BadInput("Give either templates (embedded by a text encoder) or vectors, not both")
        vecs = as_unit_vectors(vectors, what="label vectors")
        if len(vecs) != len(labels):
            raise BadInput(f"{len(vecs)} vectors for {len(labels)} labels: give one vector per label")
        source, encoder_spec = "vectors", encoder or ""
    else:
        encoder_spec, model = encoder, None
        if not encoder_spec and dataset:
            # The dataset's own encoder and model: label vectors must live in its space.
            info = store.registry.get(dataset, count=False)
            encoder_spec, model = info["encoder"], info.get("model") or None
        if not encoder_spec:
            raise BadInput(
                'Label prompts need a text encoder: give "encoder" (e.g. clip) or "dataset" '
                '(its encoder is used), or give precomputed "vectors"'
            )
        vecs = embed_labels(labels, templates or ["{}"], encoder_spec, store.settings, model)
        source = "templates"
    if dataset:
        dim = int(store.registry.get(dataset, count=False)["dim"])
        if vecs.shape[1] != dim:
            raise BadInput(f"The label vectors have {vecs.shape[1]} dimensions; dataset {dataset!r} has {dim}")
    taken = Conflict(
        f"Label set {name!r} already exists; delete it first (DELETE /labelsets/{name}) or use another name",
        labelset=name,
    )
    if store.rows(Query.named("labelsets.get", name=name)):
        raise taken
    if not claims.claim(store, "labelset", name, uuid.uuid4().hex):  # a concurrent request won the name
        raise taken
    version = time.time_ns() // 1000
    # Vectors first, registry row last: a reader never sees a registry row without its vectors.
    store.insert(
        "label_vectors",
        [[name, version, i, label, vecs[i].tolist()] for i, label in enumerate(labels)],
        column_names=["labelset", "version", "position", "label", "vector"],
    )
    store.command(
        Query.named(
            "labelsets.insert",
            name=name,
            labels=labels,
            dim=int(vecs.shape[1]),
            encoder=encoder_spec or "",
            templates=templates,
            source=source,
            version=version,
        )
    )
    return LabelSet(name, labels, vecs, encoder_spec or "", tuple(templates), source)


def get(store: Store, name: str) -> LabelSet:
    validate_name(name, what="label set")
    found = store.rows(Query.named("labelsets.get", name=name))
    if not found:
        known = [r["name"] for r in store.rows(Query.named("labelsets.list"))]
        hint = f" Known label sets: {', '.join(known)}." if known else " None exist yet: POST /labelsets."
        raise LabelSetNotFound(f"Unknown label set {name!r}.{hint}", labelset=name)
    row = found[0]
    vec_rows = store.rows(Query.named("labelsets.vectors", name=name, version=int(row["version"])))
    vectors = np.asarray([r["vector"] for r in vec_rows], dtype=np.float32)
    return LabelSet(
        name, [r["label"] for r in vec_rows], vectors, row["encoder"], tuple(row["templates"]), row["source"]
    )


def list_all(store: Store) -> list[dict]:
    return [
        {
            "name": r["name"],
            "labels": list(r["labels"]),
            "dim": int(r["dim"]),
            "encoder": r["encoder"],
            "templates": list(r["templates"]),
            "source": r["source"],
        }
        for r in store.rows(Query.named("labelsets.list"))
    ]


def delete(store: Store, name: str) -> None:
    get(store, name)
    store.command(Query.named("labelsets.delete", name=name))
    claims.release(store, "labelset", name)


def for_dataset(store: Store, name: str, dataset: str) -> tuple[LabelSet, dict]:
    """The label set and the dataset's registry row, checked to share a dimension."""
    info = store.registry.get(dataset)
    ls = get(store, name)
    if ls.dim != int(info["dim"]):
        raise BadInput(
            f"Label set {name!r} has {ls.dim}-dimensional vectors; dataset {dataset!r} has "
            f"{info['dim']}. Make the label set with the dataset's encoder."
        )
    return ls, info


def query_text_vectors(store: Store, ls: LabelSet, info: dict, texts: list[str]) -> np.ndarray:
    """Embed query texts like the label set's labels: its encoder, or the dataset's (with the
    dataset's model), so queries, labels and rows share one space."""
    if ls.encoder and ls.encoder != info.get("encoder"):
        return get_encoder(ls.encoder, store.settings).encode_texts(texts)
    return text_vectors(info, texts, store.settings)
