"""Images as model inputs: data URLs for chat APIs, PIL images for local processors, DICOM.

A `medq.types.Image` is identified by the SHA-256 of its encoded bytes; the call cache keys
on that hash (never on the path), so a renamed file is the same input and a re-encoded one
is not. Encoding an image for a request is a base64 data URL
(``data:image/jpeg;base64,...``), memoised per hash for the life of the process, so a run
that shows one image with many questions (VQA-RAD: 451 questions, 203 images) encodes each
image once.

DICOM files (CT, MR, ultrasound) are rendered to 8-bit PNG with pydicom (the ``images``
extra): the modality LUT (rescale slope and intercept), then the file's VOI window (Window
Center / Width, the first when several) or, without one, the pixel range; MONOCHROME1 is
inverted so that high values are dark, as a viewer shows them; RGB stays RGB (YBR is
converted, a palette applied); a multi-frame file gives its middle frame. The PNG is
cached under ``$MEDQ_HOME/cache/images`` by the DICOM file's hash and the window, so the
second run reads it back.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import OrderedDict
from pathlib import Path
from threading import Lock
from typing import Any

from medq.types import Image

__all__ = ["data_url", "from_dicom", "thumbnail_url", "to_pil"]

_MEMO_BYTES = 512 * 1024 * 1024  # data URLs kept in memory, at most
_memo: OrderedDict[str, str] = OrderedDict()
_memo_size = 0
_memo_lock = Lock()


def data_url(image: Image) -> str:
    """``data:<mime>;base64,<bytes>`` for `image`, memoised by its hash.

    Raises:
        OSError, ValueError: the image's file is gone or changed since it was loaded.
    """
    global _memo_size
    with _memo_lock:
        found = _memo.get(image.sha256)
        if found is not None:
            _memo.move_to_end(image.sha256)
            return found
    url = f"data:{image.mime};base64,{base64.b64encode(image.read()).decode('ascii')}"
    with _memo_lock:
        if image.sha256 not in _memo:
            _memo[image.sha256] = url
            _memo_size += len(url)
            while _memo_size > _MEMO_BYTES and len(_memo) > 1:
                _, dropped = _memo.popitem(last=False)
                _memo_size -= len(dropped)
    return url


_thumbnails: dict[tuple[str, int], str] = {}


def thumbnail_url(image: Image, max_side: int = 384) -> str:
    """A JPEG data URL of `image` scaled to at most `max_side` pixels a side (for the
    report's item browser: a VQA-RAD report would otherwise carry 11 MB of images).

    Raises:
        ModuleNotFoundError: Pillow is missing; OSError, ValueError: the image is unreadable.
    """
    key = (image.sha256, max_side)
    found = _thumbnails.get(key)
    if found is None:
        picture = to_pil(image)
        picture.thumbnail((max_side, max_side))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=80)
        found = _thumbnails[key] = (
            f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode('ascii')}")
    return found


def clear_memo() -> None:
    """Forget the memoised data URLs (benchmarks measure the first encoding with it)."""
    global _memo_size
    with _memo_lock:
        _memo.clear()
        _memo_size = 0
    _thumbnails.clear()


def to_pil(image: Image) -> Any:
    """The image decoded by Pillow, in RGB (what vision processors take).

    Raises:
        ModuleNotFoundError: Pillow is not installed (``pip install 'medq[images]'``).
    """
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(image.read())) as opened:
        return opened.convert("RGB")


def _cache_dir() -> Path:
    from medq.hub import cache_dir

    return cache_dir() / "images"


def from_dicom(path: str | Path, *, window: tuple[float, float] | None = None) -> Image:
    """A DICOM file rendered to PNG (see the module docstring), as an Image that records
    its DICOM source.

    Args:
        path: the DICOM file.
        window: (center, width) to use instead of the file's VOI window.

    Raises:
        ModuleNotFoundError: pydicom or Pillow is missing (``pip install 'medq[images]'``).
        ValueError: the file is not DICOM or holds no pixel data.
    """
    source = Path(path)
    raw = source.read_bytes()
    key = hashlib.sha256(raw + repr(window).encode()).hexdigest()
    cached = _cache_dir() / f"{key}.png"
    if cached.is_file():
        return Image.from_bytes(cached.read_bytes(), "image/png", dicom=str(source))
    png = _render(source, window)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{key[:8]}.part")
    partial.write_bytes(png)
    partial.replace(cached)  # atomic: a killed run never leaves half a PNG in the cache
    return Image.from_bytes(png, "image/png", dicom=str(source))


def _render(source: Path, window: tuple[float, float] | None) -> bytes:
    import numpy as np
    import pydicom
    from PIL import Image as PILImage
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut

    try:
        dataset = pydicom.dcmread(source)
        pixels = dataset.pixel_array
    except (InvalidDicomError, AttributeError, ValueError, TypeError) as exc:
        raise ValueError(f"{source}: not a DICOM image ({exc})") from None
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2"))
    if frames > 1:
        pixels = pixels[frames // 2]
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        pixels = apply_color_lut(pixels, dataset)
        photometric = "RGB"
    if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422") or pixels.ndim == 3:
        if photometric.startswith("YBR"):
            from pydicom.pixels import convert_color_space

            pixels = convert_color_space(pixels, photometric, "RGB")
        rgb = pixels.astype(np.float64)
        low, high = float(rgb.min()), float(rgb.max())
        scaled = np.zeros_like(rgb) if high <= low else (rgb - low) / (high - low) * 255.0
        picture = PILImage.fromarray(scaled.round().astype(np.uint8), "RGB")
    else:
        values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
        center, width = window or _window_of(dataset, values)
        low, high = center - width / 2.0, center + width / 2.0
        scaled = np.clip((values - low) / max(high - low, 1e-9), 0.0, 1.0) * 255.0
        if photometric == "MONOCHROME1":
            scaled = 255.0 - scaled
        picture = PILImage.fromarray(scaled.round().astype(np.uint8), "L")
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _window_of(dataset: Any, values: Any) -> tuple[float, float]:
    """The file's first (center, width) VOI window, else the pixel range."""
    center = getattr(dataset, "WindowCenter", None)
    width = getattr(dataset, "WindowWidth", None)
    if center is not None and width is not None:
        first = [float(v[0] if isinstance(v, list | tuple) or hasattr(v, "__len__")
                       and not isinstance(v, str | bytes) else v) for v in (center, width)]
        if first[1] > 0:
            return first[0], first[1]
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2.0, max(high - low, 1.0)
