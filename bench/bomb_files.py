"""The hostile files of the hardening review, and their loads through the running service.

Each file is made small on disk but declares (or decompresses to) far more: an `.npz` of 1M x 512
zeros (2 GB as float32) in ~4 MB, an `.npz` whose npy header declares 10^12 x 512, a Parquet file
declaring 10^9 rows (delta-encoded ids, a one-value dictionary vector), a Parquet file whose few
rows hold 65,536-dim vectors of one dictionary value (2.6 GB decoded per 10,000 rows), a Parquet
file whose 50,000 rows share one 200 KB label (10 GB decoded), and a 6000 x 6000 16-bit RGBA PNG
(~280 KB; 144 MB decoded). Each reproducer sends its file as a
client would (a multipart upload with source=features, or a path under the load root) and
follows the job it starts to its end.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

Reproducer = Callable[[httpx.Client, Path], tuple[str, str]]
ENDED = ("done", "failed", "cancelled")


def wait_job(http: httpx.Client, job: dict, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] not in ENDED and time.monotonic() < deadline:
        time.sleep(0.2)
        job = http.get(f"/jobs/{job['id']}").json()
    return job


# -- the files ----------------------------------------------------------------------------------
def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()  # the magic string, then the header


def zeros_npz(path: Path, rows: int = 1_000_000, dim: int = 512) -> Path:
    """vectors: rows x dim float32 zeros, written a chunk at a time (never 2 GB in this process)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("vectors.npy", "w", force_zip64=True) as f:
            f.write(_npy_header((rows, dim)))
            chunk = bytes(4 * dim * 8192)
            for start in range(0, rows, 8192):
                f.write(chunk[: 4 * dim * min(8192, rows - start)])
        with zf.open("ids.npy", "w") as f:
            np.lib.format.write_array(f, np.arange(rows).astype(str))
    return path


def header_npz(path: Path) -> Path:
    """vectors.npy declares 10^12 x 512 float32 (2 PB) and holds 16 bytes; ids.npy three ids."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("vectors.npy", _npy_header((10**12, 512)) + bytes(16))
        ids = io.BytesIO()
        np.lib.format.write_array(ids, np.array(["a", "b", "c"]))
        zf.writestr("ids.npy", ids.getvalue())
    return path


def delta_parquet(path: Path, rows: int, dim: int = 1, group: int = 1 << 23, dupe: bool = False) -> Path:
    """Columns id (int64, DELTA_BINARY_PACKED, 0..rows-1) and vector (dim x float32 ones,
    dictionary-encoded): a few MB on disk whatever `rows` is. With `dupe`, the last id is 0 again
    (the file is refused once every row was read, instead of stored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.int64()), ("vector", pa.list_(pa.float32(), dim))])
    options = {"use_dictionary": ["vector.list.element"], "column_encoding": {"id": "DELTA_BINARY_PACKED"}}
    with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=False, **options) as writer:
        vectors = None
        for start in range(0, rows, group):
            n = min(group, rows - start)
            if vectors is None or len(vectors) != n:
                vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * dim, dtype=np.float32)), dim)
            ids = np.arange(start, start + n, dtype=np.int64)
            ids[-1] = 0 if dupe and start + n == rows else ids[-1]
            ids = pa.array(ids)
            writer.write_table(pa.table({"id": ids, "vector": vectors}, schema=schema), row_group_size=n)
    return path


def label_parquet(path: Path, rows: int = 50_000, size: int = 200_000) -> Path:
    """Unique ids (the last one 0 again: refused once every row was read) and 4-dim vectors, all
    rows sharing one label of `size` bytes, dictionary-encoded: rows x size bytes decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = np.arange(rows, dtype=np.int64)
    ids[-1] = 0
    values = np.random.default_rng(0).normal(size=rows * 4).astype(np.float32)
    table = pa.table(
        {
            "id": pa.array(ids),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(values), 4),
            "label": pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["x" * size])),
        }
    )
    pq.write_table(table, path, compression="zstd")
    return path


def png16(path: Path, side: int = 6000) -> Path:
    """A side x side RGBA PNG of 16 bits a channel (transparent black), deflated a row at a time."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    deflate = zlib.compressobj(9)
    row = bytes(1 + side * 8)  # filter type 0, then 4 channels x 2 bytes a pixel
    idat = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def make_files(folder: Path, root: Path) -> dict[str, Path]:
    """Every file, the path loads' under `root` (the service's load root); built before the service starts."""
    folder.mkdir(parents=True, exist_ok=True)
    images = root / "png16" / "big"
    images.mkdir(parents=True)
    return {
        "zeros": zeros_npz(folder / "zeros.npz"),
        "header": header_npz(folder / "header.npz"),
        "rows": delta_parquet(root / "rows.parquet", 10**9),
        "limit": delta_parquet(folder / "limit.parquet", 10_000_000),
        "wide": delta_parquet(folder / "wide.parquet", 20_000, dim=65_536, group=2_000, dupe=True),
        "label": label_parquet(folder / "label.parquet"),
        "png": png16(images / "rgba16.png").parent.parent,
    }


# -- the reproducers ----------------------------------------------------------------------------
def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} B"


def _post(http: httpx.Client, dataset: str, data: dict, upload: Path | None) -> httpx.Response:
    files = {"file": (upload.name, upload.open("rb"), "application/octet-stream")} if upload else None
    try:
        return http.post(f"/datasets/{dataset}/load", data=data, files=files, timeout=300)
    finally:
        if files:
            files["file"][1].close()


def _answer(r: httpx.Response, job: dict | None) -> str:
    if job is None:
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        return f"{r.status_code} {body.get('code', '')}: {body.get('message', r.text[:200])}".strip()
    why = job.get("error") or job.get("message") or ""
    failures = (job.get("result") or {}).get("failures") or []
    why += f"; the first failure: {failures[0]}" if failures else ""
    why = why.replace("|", "/").replace("\n", " ")
    return f"{r.status_code}; job {job['state']} (done {job['done']:,}, stored {job.get('stored') or 0:,}): {why}"


def load(dataset: str, key: str, data: dict, upload: bool, files: dict[str, Path]) -> Reproducer:
    """POST the load (the file uploaded, or its path under the root), then follow its job to the end."""

    def run(http: httpx.Client, root: Path) -> tuple[str, str]:
        path = files[key]
        fields = dict(data) if upload else {**data, "path": str(path)}
        what = ", ".join(f"{f.name} ({_size(f)})" for f in sorted(path.rglob("*.png"))) if path.is_dir() else ""
        how = f"upload of {path.name} ({_size(path)})" if upload else f"path {path.relative_to(root)} under the root"
        how += f" holding {what}" if what else ""
        r = _post(http, dataset, fields, path if upload else None)
        job = wait_job(http, r.json()) if r.status_code == 202 else None
        return f"{how}, {', '.join(f'{k}={v}' for k, v in data.items())}", _answer(r, job)

    return run


def cancelled(dataset: str, files: dict[str, Path], after: float = 2.0) -> Reproducer:
    """The Parquet file at the row limit uploaded, DELETE /jobs/{id} once it has run `after` s."""

    def run(http: httpx.Client, root: Path) -> tuple[str, str]:
        path = files["limit"]
        r = _post(http, dataset, {"source": "features"}, path)
        job = r.json()
        if r.status_code != 202:
            return f"upload of {path.name}", _answer(r, None)
        deadline = time.monotonic() + 60
        while job["state"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = http.get(f"/jobs/{job['id']}").json()
        time.sleep(after)
        running = http.get(f"/jobs/{job['id']}").json()
        asked = time.monotonic()
        d = http.delete(f"/jobs/{job['id']}")
        job = wait_job(http, running, timeout=60)
        took = time.monotonic() - asked
        return (
            f"upload of {path.name} ({_size(path)}, 10,000,000 rows), DELETE /jobs/{{id}} after {after:.0f} s "
            f"running ({running['state']}, done {running['done']:,})",
            f"DELETE {d.status_code}; ended {job['state']} {took:.1f} s after it "
            f"(done {job['done']:,}, stored {job.get('stored') or 0:,}): {job.get('message', '')}",
        )

    return run


def reproducers(files: dict[str, Path]) -> list[tuple[str, Reproducer]]:
    features = {"source": "features"}
    return [
        (".npz of 1M x 512 zeros", load("bomb_zeros", "zeros", features, True, files)),
        (".npz header of 10^12 x 512", load("bomb_header", "header", features, True, files)),
        ("Parquet of 10^9 rows, uploaded", load("bomb_rows", "rows", features, True, files)),
        ("Parquet of 10^9 rows, by path", load("bomb_rows_path", "rows", features, False, files)),
        ("Parquet of 65,536-dim vectors", load("bomb_wide", "wide", features, True, files)),
        ("Parquet of one 200 KB label for 50,000 rows", load("bomb_label", "label", features, True, files)),
        (
            "6000 x 6000 16-bit RGBA PNG",
            load("bomb_png", "png", {"source": "images", "encoder": "pixels"}, False, files),
        ),
        ("Parquet load cancelled", cancelled("bomb_cancel", files)),
    ]
