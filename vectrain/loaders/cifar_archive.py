"""The CIFAR archives themselves: the two kinds, a checked reader of the official "python version"
archive (or its extracted folder), the md5-checked download, and a writer of archives in the
same format (for tests and benchmarks, which cannot download)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectrain.core.config import Settings
from vectrain.core.errors import BadInput
from vectrain.core.files import open_inside

SPLITS = ("train", "test")


@dataclass(frozen=True)
class CifarKind:
    name: str  # cifar10 | cifar100
    title: str
    url: str
    md5: str
    folder: str
    members: dict[str, tuple[str, ...]]  # split -> batch files, in id order
    meta: str
    label_key: bytes
    names_key: bytes
    coarse_names_key: bytes | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]


KINDS = {
    "cifar10": CifarKind(
        "cifar10",
        "CIFAR-10",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py",
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        "batches.meta",
        b"labels",
        b"label_names",
    ),
    "cifar100": CifarKind(
        "cifar100",
        "CIFAR-100",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e8b8c2f6b0d5a",
        "cifar-100-python",
        {"train": ("train",), "test": ("test",)},
        "meta",
        b"fine_labels",
        b"fine_label_names",
        b"coarse_label_names",
    ),
}


# -- reading the pickles -----------------------------------------------------------------------
class _CifarUnpickler(pickle.Unpickler):
    """Only what a CIFAR batch needs (a numpy uint8 array); any other global is refused, so a
    crafted file cannot run code while we read it."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (latin-1 text -> bytes)
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR batch")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core -> numpy._core
            return super().find_class(module, name)


def _unpickle(raw) -> dict:
    # encoding='bytes' as the official loader: the files were written by Python 2.
    obj = _CifarUnpickler(raw, encoding="bytes").load()
    if not isinstance(obj, dict):
        raise ValueError("not a pickled dict")
    return obj


@dataclass
class Batch:
    data: np.ndarray  # uint8 [n, 3072], channel-major
    labels: np.ndarray  # int [n]
    filenames: list[str]
    coarse: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, rows) -> np.ndarray:
        """uint8 [m, 32, 32, 3] RGB (height, width, channel) of the selected rows."""
        return self.data[rows].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _batch(obj: dict, kind: CifarKind, n_fine: int, n_coarse: int) -> Batch:
    data = obj.get(b"data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError("b'data' is not an n x 3072 uint8 array")
    n = data.shape[0]
    labels = np.asarray(obj.get(kind.label_key, []), dtype=np.int64)
    if labels.shape != (n,) or (n and (labels.min() < 0 or labels.max() >= n_fine)):
        raise ValueError(f"{kind.label_key!r} does not hold {n} labels in 0..{n_fine - 1}")
    filenames = [
        f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f) for f in obj.get(b"filenames", [b""] * n)
    ]
    if len(filenames) != n:
        raise ValueError(f"b'filenames' holds {len(filenames)} names for {n} images")
    coarse = None
    if kind.coarse_names_key:
        coarse = np.asarray(obj.get(b"coarse_labels", []), dtype=np.int64)
        if coarse.shape != (n,) or (n and (coarse.min() < 0 or coarse.max() >= n_coarse)):
            raise ValueError(f"b'coarse_labels' does not hold {n} labels in 0..{n_coarse - 1}")
    return Batch(data, labels, filenames, coarse)


# -- where the files come from -------------------------------------------------------------------
class ArchiveSource:
    """The batch files of an archive (.tar.gz, read in place) or of an extracted folder."""

    KEEP_BYTES = 256 * 1024 * 1024

    def __init__(self, path: Path, kind: CifarKind, within: Sequence[Path] | None = None):
        """`within`: the load roots a remote client's load must stay in (each file is checked as
        it is opened, vectrain.core.files)."""
        self.path, self.kind, self.within = path, kind, within
        self.tar: tarfile.TarFile | None = None
        self.handle = None
        self.folder: Path | None = None
        self.names: dict[str, str] = {}  # file name -> tar member name
        self.kept: dict[str, Batch] = {}
        if path.is_dir():
            for candidate in (path / kind.folder, path):
                if (candidate / kind.meta).is_file():
                    self.folder = candidate
                    break
            else:
                raise BadInput(
                    f"{path} holds no {kind.title} files: expected {kind.folder}/{kind.meta} "
                    f"(the extracted {kind.filename}) or the archive itself"
                )
        elif path.is_file():
            handle = open_inside(path, within, "path")
            try:
                self.tar = tarfile.open(fileobj=handle, mode="r:*")
                self.handle = handle
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                handle.close()
                raise self.corrupt(exc) from None
        else:
            raise BadInput(f"{path}: no such file or folder")

    def corrupt(self, exc: Exception | str) -> BadInput:
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return BadInput(
            f"{self.path} is not a complete {self.kind.title} python-version archive ({reason}). "
            f"Nothing was loaded; download it again from {self.kind.url}."
        )

    def needed(self, splits) -> list[str]:
        return [self.kind.meta] + [m for s in splits for m in self.kind.members[s]]

    def scan(self, splits) -> dict[str, object]:
        """Read and check every needed file once, in archive order (one pass over the gzip
        stream, which also catches truncation); returns the meta dict and batch sizes."""
        needed = set(self.needed(splits))
        found: dict[str, bytes | dict] = {}
        try:
            if self.tar is not None:
                for member in self.tar:  # reads every header: a truncated stream raises here
                    base = member.name.rsplit("/", 1)[-1]
                    if (
                        base in needed
                        and member.name.rstrip("/").endswith(f"{self.kind.folder}/{base}")
                        and member.isfile()
                    ):
                        self.names[base] = member.name
                        found[base] = _unpickle(self.tar.extractfile(member))
            else:
                for base in needed:
                    if (self.folder / base).is_file():
                        with open_inside(self.folder / base, self.within, "path") as f:
                            found[base] = _unpickle(f)
        except (
            tarfile.TarError,
            OSError,
            EOFError,
            zlib.error,
            pickle.UnpicklingError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
        ) as exc:
            raise self.corrupt(exc) from None
        missing = sorted(needed - set(found))
        if missing:
            raise self.corrupt(f"missing {', '.join(f'{self.kind.folder}/{m}' for m in missing)}")
        meta = found.pop(self.kind.meta)
        fine = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(self.kind.names_key, [])]
        coarse = (
            [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(self.kind.coarse_names_key, [])]
            if self.kind.coarse_names_key
            else []
        )
        if not fine or (self.kind.coarse_names_key and not coarse):
            raise self.corrupt(f"{self.kind.meta} has no {self.kind.names_key!r}")
        sizes, kept = {}, 0
        for base, obj in found.items():
            try:
                batch = _batch(obj, self.kind, len(fine), len(coarse))
            except ValueError as exc:
                raise self.corrupt(f"{base}: {exc}") from None
            sizes[base] = len(batch)
            # Keep checked batches for the load pass while they fit the budget: saves a second
            # gunzip + unpickle (about half the load time). All of CIFAR is 184 MB of pixels.
            if kept + batch.data.nbytes <= self.KEEP_BYTES:
                self.kept[base] = batch
                kept += batch.data.nbytes
        return {"fine": fine, "coarse": coarse, "sizes": sizes}

    def batch(self, base: str, n_fine: int, n_coarse: int) -> Batch:
        if base in self.kept:
            return self.kept.pop(base)
        if self.tar is not None:
            raw = self.tar.extractfile(self.tar.getmember(self.names[base]))
        else:
            raw = open_inside(self.folder / base, self.within, "path")
        with raw:
            return _batch(_unpickle(raw), self.kind, n_fine, n_coarse)

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.handle.close()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(kind: CifarKind, settings: Settings, progress: bool = True) -> Path:
    """The official archive, cached under data_dir/cache (md5 checked; retried with backoff)."""
    cache = Path(settings.data_dir) / "cache"
    target = cache / kind.filename
    if target.is_file() and _md5(target) == kind.md5:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(target.suffix + ".part")
    tries = max(1, settings.download_retries)
    error: Exception | str = ""
    for attempt in range(tries):
        if attempt:
            time.sleep(2**attempt)
        try:
            with urllib.request.urlopen(kind.url, timeout=60) as response, open(part, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                from tqdm import tqdm

                with tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"download {kind.filename}", disable=not progress
                ) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            error = exc
            continue
        if _md5(part) == kind.md5:
            part.replace(target)
            return target
        error = "the download's md5 does not match the official archive"
    part.unlink(missing_ok=True)
    raise BadInput(
        f"Could not download {kind.url} after {tries} tries ({error}). Offline? Fetch "
        f"{kind.filename} elsewhere and pass --path /path/to/{kind.filename}."
    )


# -- loading ---------------------------------------------------------------------------------------


def write_archive(
    path: str | Path,
    kind: str,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    names: list[str],
    coarse: dict | None = None,
) -> Path:
    """A tar.gz laid out exactly like the official one: `splits` maps train/test to (uint8
    [n, 3072] channel-major pixels, fine label indices); CIFAR-100 also takes `coarse` =
    {split: coarse indices, "names": coarse names}. CIFAR-10 train is cut into 5 batch files."""
    spec = KINDS[kind]
    path = Path(path)

    def add(tar, name: str, obj: dict) -> None:
        raw = pickle.dumps(obj, protocol=2)
        info = tarfile.TarInfo(f"{spec.folder}/{name}")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        if kind == "cifar10":
            add(
                tar,
                spec.meta,
                {b"label_names": [n.encode() for n in names], b"num_cases_per_batch": 10000, b"num_vis": 3072},
            )
        else:
            add(
                tar,
                spec.meta,
                {
                    b"fine_label_names": [n.encode() for n in names],
                    b"coarse_label_names": [n.encode() for n in coarse["names"]],
                },
            )
        for split, (data, labels) in splits.items():
            files = spec.members[split]
            parts = np.array_split(np.arange(len(labels)), len(files))
            for file, idx in zip(files, parts):
                obj = {
                    b"batch_label": f"{split} batch".encode(),
                    b"filenames": [f"img_{split}_{i:05d}.png".encode() for i in idx],
                    b"data": np.ascontiguousarray(data[idx], dtype=np.uint8),
                    spec.label_key: [int(x) for x in labels[idx]],
                }
                if kind == "cifar100":
                    obj[b"coarse_labels"] = [int(x) for x in np.asarray(coarse[split])[idx]]
                add(tar, file, obj)
    return path
