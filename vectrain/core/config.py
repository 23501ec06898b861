"""All settings in one place, read from the environment (prefix VECTRAIN_) or a .env file.

Every setting's description lives here; docs/SETTINGS.md is generated from them
(`python -m vectrain.core.config > docs/SETTINGS.md`) and a test fails when it is out of date.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The user's data folder (~/.local/share/vectrain on Linux, ~/Library/Application Support/vectrain
# on macOS, %LOCALAPPDATA%\vectrain on Windows): never inside the installed package.
DATA_HOME = Path(user_data_dir("vectrain", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VECTRAIN_", env_file=".env", extra="ignore")

    # -- storage --------------------------------------------------------------------------------
    database_url: str = Field(
        f"chdb://{DATA_HOME / 'db'}",
        description=(
            "Where the data lives: `chdb:///<absolute path>` opens the embedded engine in this process; "
            "`http(s)://user:pass@host:8123/db` talks to a ClickHouse server (>= 25.8)."
        ),
    )
    database: str = Field(
        "vectrain", description="The ClickHouse database of vectrain's tables (a server URL's path overrides it)."
    )
    dialect: str = Field(
        "clickhouse", description="SQL dialect of the vector functions and index DDL: `clickhouse` or `myscale`."
    )

    # -- service --------------------------------------------------------------------------------
    host: str = Field(
        "127.0.0.1",
        description="Interface `vectrain serve` binds; a non-loopback one needs API keys (or `--insecure`).",
    )
    port: int = Field(8000, description="Port of `vectrain serve`.")
    warm_up: bool = Field(
        True,
        description="At start-up, before the first request, load what the first training round after a "
        "restart needs (scipy and the database client's insert path), so the first Enter does not pay for it.",
    )
    service_url: str | None = Field(
        None,
        description="Where the CLI sends commands (same as `--url`); by default "
        "the `vectrain serve` that holds the embedded database.",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated keys that may read and write. When this or "
        "`VECTRAIN_READ_API_KEYS` is set, every endpoint but `/health`, the web page "
        "and `/docs` needs `Authorization: Bearer <key>`. A key may carry its labeler's name, "
        "`alice:KEY1,bob:KEY2`: that name is recorded with every label the key writes.",
    )
    read_api_keys: str = Field(
        "",
        description="Comma-separated keys that may only read: GETs, search, next batches, "
        "classify without storing, `/sql`. Names as in `VECTRAIN_API_KEYS` (`name:KEY`).",
    )
    api_key: str = Field("", description="The key the CLI sends to a running service.")
    labeler: str = Field(
        "",
        description="The name the CLI's labels, next batches (leases) and undo are recorded as, when its key "
        "carries no name (sent as the `X-Vectrain-Labeler` header).",
    )
    cors_origins: str = Field(
        "", description="Comma-separated browser origins allowed to call the API (CORS); none by default."
    )
    allowed_hosts: str = Field(
        "",
        description=(
            "Without API keys, requests must name this service in their `Host` header as `localhost`, "
            "`127.0.0.1`, `::1` or `VECTRAIN_HOST` (a page on another site that re-points its own name at "
            "this machine, DNS rebinding, is refused); comma-separated further names it may be reached by, "
            "or `*` for any. With keys, any Host is answered."
        ),
    )

    # -- request limits (checked before the work starts) ----------------------------------------
    max_body_bytes: int = Field(32 * 1024 * 1024, description="Largest request body, in bytes (413 above).")
    max_upload_bytes: int = Field(20 * 1024 * 1024, description="Largest uploaded image, in bytes.")
    max_image_pixels: int = Field(
        40_000_000,
        description="Largest image decoded (width x height), read from its header before any pixel is decoded.",
    )
    max_image_bytes: int = Field(
        128_000_000,
        description=(
            "Largest image decoded, in bytes decoded (width x height x 4 for RGB, RGBA and CMYK; x 1 for grey and "
            "palette; x 2 for 16-bit grey), read from its header before any pixel is decoded."
        ),
    )
    max_ids: int = Field(10_000, description="Ids in one request (exclude_ids, item_ids, positive_ids, labels).")
    max_vectors: int = Field(1_000, description="Vectors in one request.")
    max_texts: int = Field(256, description="Texts in one request.")
    max_text_chars: int = Field(2_000, description="Characters of one text, prompt or label.")
    max_offset: int = Field(100_000_000, description="Largest paging offset.")
    batch_time_budget: float = Field(
        30.0,
        description=(
            "Seconds a synchronous batch request (kNN, zero-shot, tourney, eval) may run before it stops with "
            "a 422 that points at the paths without a budget."
        ),
    )

    # -- analysts' SQL --------------------------------------------------------------------------
    sql_max_execution_time: float = Field(
        10.0, description="Seconds one `POST /sql` / `vectrain sql` statement may run (422 above)."
    )
    sql_max_result_rows: int = Field(
        10_000, description="Rows one statement may return; more are cut (`truncated: true`)."
    )
    sql_max_result_bytes: int = Field(
        16_000_000,
        description="Bytes of JSON one statement may return: rows past it are cut (`truncated: true`), unread.",
    )
    sql_max_memory_usage: int = Field(
        80_000_000,
        description=(
            "Bytes of memory one statement may use in the engine (413 above); aggregations and sorts past half "
            "of it spill to disk. On the embedded engine a result is buffered in the service's process as well: "
            "measured, a statement costs the service up to about 5x this (BENCHMARKS.md, hostile requests)."
        ),
    )
    sql_max_rows_to_read: int = Field(
        50_000_000,
        description="Rows one statement may read from tables and table "
        "functions (413 above): a few scans of a 1M-row table.",
    )
    sql_max_query_length: int = Field(100_000, description="Characters of SQL text in one statement.")
    sql_pool_size: int = Field(4, description="Statements that run at once, each on an engine handle of its own.")
    sql_pool_wait_seconds: float = Field(2.0, description="How long a statement waits for a free handle before a 429.")
    sql_database_url: str | None = Field(
        None,
        description=(
            "On a ClickHouse server, the account `POST /sql` runs as, e.g. "
            "`http://vectrain_reader:PASS@host:8123/vectrain` (SELECT on this database only, no SOURCES grants; "
            "the compose stack creates one). Unset: the account of `VECTRAIN_DATABASE_URL`."
        ),
    )

    # -- vector search --------------------------------------------------------------------------
    ann_ef_search: int = Field(
        256, description="Floor of the HNSW candidate list (`hnsw_candidate_list_size_for_search`)."
    )
    ann_max_limit: int = Field(1000, description="Largest k answered through the index; a larger k scans.")
    index_cache_bytes: int = Field(
        0,
        ge=0,
        description=(
            "Memory the embedded engine keeps vector indexes in between searches "
            "(`vector_similarity_index_cache_size`, LRU). One part's index that does not fit is read from disk "
            "again by every search: seconds, not milliseconds, from about 4M rows. 0: half of this machine's "
            "memory. On a ClickHouse server it is the server's setting (docker/clickhouse/config.d/vectrain.xml)."
        ),
    )
    ann_quantization: str = Field(
        "f32",
        description=(
            "HNSW index quantization of new datasets: `f32` (exact distances) or `bf16` (0.44x the index memory, "
            "but recall@10 0.3-0.5 at 1M rows with 1,000 rows excluded; BENCHMARKS.md, docs/ARCHITECTURE.md)."
        ),
    )
    ann_index_max_dim: int = Field(
        2048,
        description="No HNSW index above this dimension (e.g. raw pixels at 32x32 "
        "= 3,072 dims): such datasets are searched by full scan.",
    )
    ann_min_rows: int = Field(
        5000,
        ge=0,
        description=(
            "Datasets with fewer rows are searched by a full scan, which costs about what the index does there (a "
            "few ms) and is exact: an HNSW graph of the 1,797-row demo missed a query's own item in 0-18 of 1,797 "
            "searches, varying from build to build."
        ),
    )
    exact_scan_ratio: int = Field(
        10,
        description=(
            "A full scan answers instead of the index when the candidates to fetch (k x fetch multiplier) times "
            "this exceed the table's rows: small tables and large exclusions scan, exactly."
        ),
    )
    search_max_k: int = Field(1000, description="Largest k of a search, next batch or kNN.")
    session_score_wait: float = Field(
        1.0,
        ge=0,
        description=(
            "How long `train` waits for its round's scores (every row scored once into a table ordered by score, "
            "which next batches read ranges of: 0.2 s at 300k rows). A longer scoring goes on in the background "
            "while the person labels: next batches use the latest scored round meanwhile and say which, and the "
            "round's quality number is stored when its scoring is done."
        ),
    )
    class_score_wait_rows: int = Field(
        200_000,
        ge=0,
        description=(
            "Multi-class sessions score every item after each round, in the background. Up to this many rows (a "
            "fraction of a second) a next batch waits for the latest round's scores; above it, it reads the newest "
            "round already scored and says which."
        ),
    )
    search_max_examples: int = Field(
        64,
        description=(
            "Examples (positive and negative, ids and vectors) in one search: best_score computes one dot product "
            "per example and row."
        ),
    )

    # -- labelers ---------------------------------------------------------------------------------
    lease_seconds: float = Field(
        600.0,
        ge=0,
        description="How long the items of a next batch stay leased to the named labeler it was handed to: "
        "other labelers' batches skip them until they are labeled or the lease ends, and the labeler's own "
        "next batches serve them again first (a reload keeps them). 0 turns leases off.",
    )
    agreement_min_items: int = Field(
        10,
        ge=1,
        description="Items two labelers must both have labeled before a session reports their agreement "
        "(Cohen's kappa, with its 95% interval).",
    )

    # -- audit estimates of a session's classifier (GET /sessions/{id} "estimate") --------------
    estimate_min_audit: int = Field(
        10,
        description="Audit labels a session needs before it reports an estimate "
        "of its classifier over the whole dataset.",
    )
    estimate_more_labels: int = Field(
        50,
        ge=1,
        le=100_000,
        description="The stop rule's projection: how much narrower the F1 interval would be after this many more "
        "labels.",
    )
    estimate_stop_gain: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description=(
            "The stop hint fires when `VECTRAIN_ESTIMATE_MORE_LABELS` more labels would narrow the 95% F1 interval "
            "by less than this."
        ),
    )
    audit_floor: float = Field(
        0.2,
        ge=0.01,
        le=1.0,
        description=(
            "Uniform share of the audit design: each draw's weight is this share spread evenly over the pool plus the "
            "rest in proportion to the predictor's uncertainty (1: uniform draws). It bounds the weight of any item "
            "from below, and so the variance a rare surprise can add."
        ),
    )

    # -- loading --------------------------------------------------------------------------------
    insert_batch_rows: int = Field(10_000, description="Rows per insert when loading feature files.")
    max_load_rows: int = Field(
        10_000_000,
        ge=1,
        description=(
            "Rows one features file may hold, read from its headers (npy) or footer (Parquet) before any row is "
            "read (413 above): a 12 MB Parquet file can declare 10^9 rows."
        ),
    )
    thumbnail_size: int = Field(
        256,
        ge=8,
        le=4096,
        description=(
            "Long side of the thumbnail loaders store for every image they read (smaller images keep their size), "
            "and the default `?size=` of `GET /datasets/{name}/items/{id}/image`."
        ),
    )
    thumbnail_max_size: int = Field(1024, ge=8, le=4096, description="Largest `?size=` an image request may ask for.")
    decode_workers: int = Field(
        0, ge=0, le=256, description="Threads decoding image files in `vectrain load images` (0: one per CPU core)."
    )

    # -- jobs and loads through the running service ---------------------------------------------
    load_roots: str = Field(
        "",
        description=(
            "Comma-separated folders on the service's machine that `POST /datasets/{name}/load` may read: a path from "
            "a client must resolve (symlinks and `..` included) inside one of them, else 403. Unset: clients load by "
            "uploading a features file. The CLI on the same machine may name any path its user can read."
        ),
    )
    max_load_bytes: int = Field(
        2 * 1024**3,
        description=(
            "Largest features file uploaded to `POST /datasets/{name}/load`, in bytes (413 above, before it is stored)."
        ),
    )
    job_workers: int = Field(
        2, ge=1, le=16, description="Jobs that run at once (at most one per dataset); more wait queued."
    )
    job_progress_seconds: float = Field(
        2.0,
        gt=0,
        description="How often a running job's progress is written to the "
        "`jobs` table (`GET /jobs/{id}` is always current).",
    )

    # -- encoders -------------------------------------------------------------------------------
    clip_model: str = Field(
        "openai/clip-vit-base-patch32",
        description=(
            "CLIP weights: a HuggingFace hub id, or a local directory saved with `save_pretrained` (offline)."
        ),
    )
    allow_model_download: bool = Field(
        False,
        description=(
            "Whether CLIP weights named by a hub id may be downloaded from the HuggingFace hub when they are not in "
            "the local cache. Off: nothing reaches the network (a request or a load that needs missing weights fails "
            "at once, naming this setting); a local directory in `VECTRAIN_CLIP_MODEL` always works. Set it to "
            "`true` for the CLI (or the service) that should fetch and cache them once."
        ),
    )
    device: str = Field("auto", description="Where encoders run: `auto`, `cpu` or `cuda`.")
    encode_batch_size: int = Field(64, description="Images or texts per encoder batch.")

    # -- real-dataset loaders -------------------------------------------------------------------
    data_dir: Path = Field(
        DATA_HOME, description="Downloads (cached) and failure logs of the CIFAR and Unsplash loaders go under here."
    )
    download_retries: int = Field(3, description="Attempts per download.")
    fetch_workers: int = Field(8, description="Concurrent image downloads (Unsplash).")
    fetch_timeout: float = Field(20.0, description="Seconds per image request.")
    fetch_width: int = Field(640, description="Unsplash images are fetched resized to this width.")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_markdown() -> str:
    """docs/SETTINGS.md: every setting, its environment variable, default and description."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable (or a line of a `.env` file in the working directory).",
        "Generated from `vectrain/core/config.py` by `python -m vectrain.core.config > docs/SETTINGS.md`.",
        "",
        "| variable | default | what |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        if name == "database_url":
            default = "chdb://<user data folder>/db"
        elif name == "data_dir":
            default = "<user data folder>"
        shown = "" if default in ("", None) else f"`{default}`"
        lines.append(f"| `VECTRAIN_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
