"""SQLite cache of validated headers (the local study index), keyed by path, size and mtime.

Lives in platformdirs' user cache folder by default. Headers are stored as JSON (never pickle:
the cache file is data, not code); a changed file (size or mtime) is read again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from viewer.dicomio.attributes import VoiFunction, VoiWindow
from viewer.dicomio.header import ImageHeader, read_header
from viewer.dicomio.luts import ModalityLut, VoiLut

SCHEMA_VERSION = 1


def default_cache_path() -> Path:
    """<user cache>/MammoLens/study-index.sqlite (platformdirs; the demo study's folder too)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("MammoLens", appauthor=False)) / "study-index.sqlite"


def _lut(array: np.ndarray) -> dict[str, Any]:
    return {"dtype": array.dtype.str, "values": array.tolist()}


def _array(data: dict[str, Any]) -> np.ndarray:
    array = np.asarray(data["values"], dtype=np.dtype(data["dtype"]))
    array.flags.writeable = False
    return array


def header_to_json(header: ImageHeader) -> str:
    """Serialize a header (LUT tables included) as JSON text."""
    data: dict[str, Any] = {f.name: getattr(header, f.name) for f in fields(header)}
    data["path"] = str(header.path)
    data["windows"] = [[w.center, w.width, w.explanation, w.function.value] for w in header.windows]
    data["voi_luts"] = [
        [v.first_mapped, _lut(v.lut), v.explanation, v.bits] for v in header.voi_luts
    ]
    mlut = header.modality_lut
    data["modality_lut"] = (
        None if mlut is None else [mlut.first_mapped, _lut(mlut.lut), mlut.bits, mlut.lut_type]
    )
    return json.dumps(data)


def header_from_json(text: str) -> ImageHeader:
    """Inverse of `header_to_json`."""
    data = json.loads(text)
    data["path"] = Path(data["path"])
    data["windows"] = tuple(VoiWindow(c, w, e, VoiFunction(f)) for c, w, e, f in data["windows"])
    data["voi_luts"] = tuple(
        VoiLut(first, _array(lut), note, bits) for first, lut, note, bits in data["voi_luts"]
    )
    if data["modality_lut"] is not None:
        first, lut, bits, kind = data["modality_lut"]
        data["modality_lut"] = ModalityLut(first, _array(lut), bits, kind)
    if data["pixel_spacing"] is not None:
        data["pixel_spacing"] = tuple(data["pixel_spacing"])
    return ImageHeader(**data)


class HeaderCache:
    """Validated headers by (path, size, mtime_ns); thread-safe; `read_header` reads through."""

    def __init__(self, db_path: Path | None = None) -> None:
        self.db_path = db_path or default_cache_path()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.db_path, check_same_thread=False)
        with self._lock, self._db:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._db.execute("DROP TABLE IF EXISTS headers")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS headers (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, header TEXT)"
            )

    def read_header(self, path: str | Path) -> ImageHeader:
        """The cached header if the file is unchanged, else `read_header(path)` (then cached)."""
        path = Path(path).absolute()
        try:
            stat = path.stat()
        except OSError:
            return read_header(path)  # raises the typed error
        with self._lock:
            row = self._db.execute(
                "SELECT header FROM headers WHERE path = ? AND size = ? AND mtime_ns = ?",
                (str(path), stat.st_size, stat.st_mtime_ns),
            ).fetchone()
        if row is not None:
            return header_from_json(row[0])
        header = read_header(path)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO headers VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, header_to_json(header)),
            )
        return header

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM headers").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
