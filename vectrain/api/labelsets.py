"""Label sets: named class lists with one vector per class (given, or embedded from prompts),
the start of zero-shot classification, tourneys and multi-class sessions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vectrain.api import schema
from vectrain.api.deps import StoreDep
from vectrain.api.models import LabelSetName, Request, api_router
from vectrain.classify import labelsets
from vectrain.classify.labelsets import MAX_LABELS, MAX_TEMPLATES

router = api_router("classify")


class LabelSetRequest(Request):
    """Precomputed `vectors` (one per label), or prompts embedded by a text encoder: `encoder`,
    or the `dataset`'s own (then `templates`, or the labels themselves)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [schema.given("vectors"), schema.given("encoder"), schema.given("dataset")],
            "not": {
                "required": ["templates", "vectors"],
                "properties": {"templates": {"minItems": 1}, "vectors": schema.NOT_NULL},
            },
        }
    )

    name: str = Field(description="Label set name: lowercase letters, digits and _", json_schema_extra=schema.NAME)
    labels: list[str] = Field(
        description="The class names, in order (distinct)",
        examples=[["cat", "dog"]],
        json_schema_extra={
            "items": {"type": "string", **schema.text()},
            "minItems": 1,
            "maxItems": MAX_LABELS,
            "uniqueItems": True,
        },
    )
    templates: list[str] = Field(
        default_factory=list,
        description="Prompts with one {} for the label (and no other braces); "
        "each label's vector is the normalized mean of its prompts' text embeddings",
        examples=[["a photo of a {}", "a blurry photo of a {}"]],
        json_schema_extra={"items": {"type": "string", **schema.TEMPLATE}, "maxItems": MAX_TEMPLATES},
    )
    vectors: list[list[float]] | None = Field(
        None, description="Precomputed label vectors, one per label", json_schema_extra=schema.vectors("max_vectors")
    )
    encoder: str | None = Field(
        None, description="Text encoder for the templates (default: the dataset's)", json_schema_extra={"minLength": 1}
    )
    dataset: str | None = Field(
        None, description="Check the dimension against this dataset and use its encoder", json_schema_extra=schema.NAME
    )


class LabelSetInfo(BaseModel):
    name: str
    labels: list[str]
    dim: int
    encoder: str
    templates: list[str]
    source: str


@router.post("/labelsets", response_model=LabelSetInfo, status_code=201)
def create_labelset(body: LabelSetRequest, store: StoreDep):
    """Embed (or take) one vector per label and store them; 409 if the name exists."""
    ls = labelsets.create(
        store,
        body.name,
        body.labels,
        templates=body.templates,
        vectors=body.vectors,
        encoder=body.encoder,
        dataset=body.dataset,
    )
    return ls.summary()


@router.get("/labelsets", response_model=list[LabelSetInfo])
def list_labelsets(store: StoreDep):
    return labelsets.list_all(store)


@router.get("/labelsets/{name}", response_model=LabelSetInfo)
def get_labelset(name: LabelSetName, store: StoreDep):
    return labelsets.get(store, name).summary()


@router.delete("/labelsets/{name}", status_code=204)
def delete_labelset(name: LabelSetName, store: StoreDep):
    labelsets.delete(store, name)
