"""The built-in demo data: a deterministic class-per-folder set of shapes, made with no download.

Three classes (circle, square, triangle) drawn with random colour, size, position
and rotation on noisy backgrounds, as JPEG and PNG of varied sizes, some grey and
some RGBA: a CNN can learn them, but not from one pixel. A few corrupt, truncated,
zero-byte and non-image files are added so the quarantine report has something to show.
"""

from __future__ import annotations

import io
import math
import shlex
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "demo.pbtxt"  # its curated schema
# How the demo trains, wherever it runs (`make run`, `make kfp-local`, the tests' shared
# run): small images and a short budget, so the whole pipeline takes about a minute on 2 cores.
SETTINGS = ("--image-size", "64", "--epochs", "20", "--patience", "4", "--schema", str(SCHEMA))


def draw_shape(shape: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One RGB picture of a shape on a noisy background."""
    width, height = size
    background = rng.integers(0, 256, size=3)
    noise = rng.normal(0, 12, size=(height, width, 3))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in (background + 128 + rng.integers(-40, 40, size=3)) % 256)
    radius = rng.uniform(0.3, 0.45) * min(width, height)
    cx = rng.uniform(radius, width - radius)
    cy = rng.uniform(radius, height - radius)
    angle = rng.uniform(0, 2 * math.pi)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    else:
        corners = 4 if shape == "square" else 3
        points = [
            (cx + radius * math.cos(angle + 2 * math.pi * k / corners),
             cy + radius * math.sin(angle + 2 * math.pi * k / corners))
            for k in range(corners)
        ]
        draw.polygon(points, fill=colour)
    return image


def encode(image: Image.Image, image_format: str) -> bytes:
    """The image encoded as JPEG or PNG bytes."""
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=90)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def make_demo_data(output_dir: str | Path, images_per_class: int = 300, seed: int = 0) -> Path:
    """Writes the demo tree to output_dir and returns it; the same seed writes the same files."""
    root = Path(output_dir)
    rng = np.random.default_rng(seed)
    for shape in CLASSES:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(images_per_class):
            side = int(rng.integers(48, 129))  # varied sizes, near-square so resizing keeps shapes
            size = (side, int(side * rng.uniform(0.85, 1.2)))
            image = draw_shape(shape, rng, size)
            kind = rng.random()
            if kind < 0.15:
                image, image_format, ext = image.convert("L"), "JPEG", "jpg"
            elif kind < 0.3:
                image, image_format, ext = image.convert("RGBA"), "PNG", "png"
            elif kind < 0.6:
                image_format, ext = "PNG", "png"
            else:
                image_format, ext = "JPEG", "jpg"
            (folder / f"{shape}_{i:04d}.{ext}").write_bytes(encode(image, image_format))
    _add_broken_files(root, rng)
    return root


def _add_broken_files(root: Path, rng: np.random.Generator) -> None:
    good = encode(draw_shape("circle", rng, (64, 64)), "JPEG")
    (root / "circle" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "square" / "empty.png").write_bytes(b"")
    (root / "triangle" / "notes.jpg").write_bytes(b"this is a text file named like a JPEG\n")


if __name__ == "__main__":  # `python -m pipeline.data_tools.demo`: the settings, for the Makefile
    print(" ".join(shlex.quote(argument) for argument in SETTINGS))
