"""The ImageExampleGen's own settings, carried as one JSON execution property."""

from __future__ import annotations

import dataclasses
import json

DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels: far above any training photo, far below a bomb
FOLDER = "folder"
CSV = "csv"
DATA_FORMATS = (FOLDER, CSV)

@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """How to ingest: an optional fixed class list and the pixel cap applied before decoding."""

    class_names: tuple[str, ...] = ()  # empty: the class folders found in the data
    max_pixels: int = DEFAULT_MAX_PIXELS
    data_format: str = FOLDER  # folder: class-per-folder images; csv: rows of pixels
    image_shape: tuple[int, int, int] = (28, 28, 1)  # the pixel layout of CSV rows (h, w, c)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> IngestOptions:
        if not text:
            return cls()
        values = json.loads(text)
        values["class_names"] = tuple(values.get("class_names", ()))
        if "image_shape" in values:
            values["image_shape"] = tuple(values["image_shape"])
        return cls(**values)
