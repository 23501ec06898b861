"""All settings in one place, read from the environment (prefix VECTRAIN_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VECTRAIN_", env_file=".env", extra="ignore")

    # Storage. chdb:///<absolute path> opens the embedded engine in this process;
    # http(s)://user:pass@host:8123/db talks to a ClickHouse server (>= 25.8).
    database_url: str = Field(default=f"chdb://{REPO_ROOT / 'data' / 'db'}")
    # The ClickHouse database that holds vectrain's tables (a server URL's path overrides it).
    database: str = "vectrain"
    # SQL dialect of the vector functions and index DDL: clickhouse | myscale.
    dialect: str = "clickhouse"

    # Service.
    host: str = "127.0.0.1"
    port: int = 8000
    # Where the CLI finds a running service when the embedded database is held by it.
    service_url: str | None = None
    # API keys, comma-separated. When either list is set, every endpoint but /health and the web
    # page's static files needs `Authorization: Bearer <key>`: api_keys may read and write,
    # read_api_keys may only read (GETs, search, classify without storing, /sql).
    api_keys: str = ""
    read_api_keys: str = ""
    # The key the CLI sends to a running service (VECTRAIN_API_KEY).
    api_key: str = ""
    # Browser origins allowed to call the API (CORS), comma-separated; none by default.
    cors_origins: str = ""

    # Request limits: checked before the work starts.
    max_body_bytes: int = 32 * 1024 * 1024  # any request body
    max_upload_bytes: int = 20 * 1024 * 1024  # an uploaded image
    max_image_pixels: int = 40_000_000  # width x height of any decoded image (read from its header first)
    max_ids: int = 10_000  # ids in one request (exclude_ids, item_ids, positive_ids, labels)
    max_vectors: int = 1_000  # vectors in one request
    max_texts: int = 256  # texts in one request
    max_text_chars: int = 2_000  # characters of one text or prompt
    max_offset: int = 100_000_000  # paging offsets
    # Synchronous batch work (kNN, zero-shot, tourney, eval) that would take longer than this is
    # refused with a pointer to the job path ("wait": false).
    batch_time_budget: float = 30.0

    # Read-only SQL endpoint limits.
    sql_max_execution_time: float = 10.0
    sql_max_result_rows: int = 10_000

    # Vector search.
    ann_ef_search: int = 256  # hnsw_candidate_list_size_for_search floor
    ann_max_limit: int = 1000  # largest k answered through the index; larger k scans
    # HNSW index quantization for new items tables: f32 gives exact distances (no rescoring);
    # bf16 halves index memory at some precision (docs/ARCHITECTURE.md, BENCHMARKS.md).
    ann_quantization: str = "f32"
    # No HNSW index above this dimension (e.g. pixels at 32x32 = 3,072): searched by full scan.
    ann_index_max_dim: int = 2048
    # Below this many rows per fetched candidate (k * fetch multiplier), a full scan is both
    # exact and about as fast as the index: small tables and large exclusions scan.
    exact_scan_ratio: int = 10
    search_max_k: int = 1000
    # Sessions: `boundary`/`mixed` find the items nearest the threshold by an exact scan up to
    # this many rows; above it, among the session_boundary_pool nearest (HNSW) to the weights.
    session_exact_boundary_rows: int = 200_000
    session_boundary_pool: int = 200

    # Loading.
    insert_batch_rows: int = 10_000

    # Encoders.
    clip_model: str = "openai/clip-vit-base-patch32"
    device: str = "auto"  # auto | cpu | cuda
    encode_batch_size: int = 64

    # Real-dataset loaders (CIFAR, Unsplash): downloads are cached, failures logged, under here.
    data_dir: Path = REPO_ROOT / "data"
    download_retries: int = 3
    fetch_workers: int = 8  # concurrent image downloads
    fetch_timeout: float = 20.0  # seconds per image request
    fetch_width: int = 640  # Unsplash images are fetched resized to this width (?w=)


@lru_cache
def get_settings() -> Settings:
    return Settings()
