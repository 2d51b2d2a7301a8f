"""Robust image input/output.

Conventions
-----------
* :func:`read_image` always returns ``uint8`` RGB ``(H, W, 3)`` in the file's *display* orientation:

  - greyscale (``1``, ``L``, ``I;16``, ``I``, ``F``) is replicated to 3 channels;
  - 16-bit data (``I;16*``) is scaled to 8 bit with rounding (``round(v / 257)``, so 65535 -> 255);
    PIL mode ``I`` (32-bit int) is treated as 16-bit data when its maximum exceeds 255, else as 8-bit data;
    mode ``F`` (float) is treated as [0, 1] data when its maximum is <= 1, else as [0, 255]; values are clipped;
  - **alpha** (``RGBA``, ``LA``, ``PA``, palette/greyscale with a ``transparency`` entry) is **composited on a
    white background** (``out = a * colour + (1 - a) * 255``), so fully transparent pixels read as white.
    Transparent cut-outs therefore look like an object on a plain white page, which is what a viewer shows;
  - palette (``P``) images are expanded through their palette; ``CMYK`` / ``YCbCr`` / ``LAB`` / ``HSV`` are
    converted with PIL's built-in conversions (no ICC colour management);
  - the EXIF orientation tag is applied (:func:`PIL.ImageOps.exif_transpose`), so a portrait photo stored
    sideways with orientation 6 comes back upright (its ``H`` and ``W`` are those a viewer shows);
  - multi-frame files (GIF, TIFF, ...) give their first frame.

* Missing, unreadable, truncated or non-image files raise :class:`ImageReadError` (a
  :class:`~structnet.errors.UserError`, hence a :class:`ValueError`) whose one-line message is
  ``<path>: <reason>``.
* **Pixel limit**: an image whose header claims more than ``max_pixels`` pixels (default :data:`MAX_PIXELS`,
  100 megapixels, or the environment variable ``STRUCTNET_MAX_PIXELS``) is refused *before* it is decoded, with
  ``x.png: 20000x20000 = 400 MP is over the 100 MP limit (set STRUCTNET_MAX_PIXELS to raise it)``. This replaces
  PIL's own decompression-bomb check for the files read here: PIL's ``DecompressionBombWarning`` /
  ``DecompressionBombError`` never reach the caller.
* Output names: :func:`output_names` gives every input a distinct output name (its stem unless two inputs share
  it, also case-insensitively), so a batch never overwrites one image's results with another's.
* Output paths: :func:`check_output_file` and :func:`check_output_dir` refuse a path that cannot be written (a
  folder where a file is wanted, a file where a folder is wanted, a parent that is not writable) in one line,
  before any work.
* Coordinates: row = y down, column = x right, origin at the top-left pixel.
"""
from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple, TypeVar, Union

import numpy as np

from ..atomic import atomic_write
from ..errors import UserError

PathLike = Union[str, os.PathLike]
T = TypeVar("T")

#: File extensions (lower case, with the dot) that :func:`list_images` picks up from directories.
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")

#: Default pixel limit of :func:`read_image` / :func:`read_mask` (width x height), overridden by the environment
#: variable ``STRUCTNET_MAX_PIXELS`` and by their ``max_pixels`` argument.
MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = "STRUCTNET_MAX_PIXELS"

__all__ = ["ImageReadError", "IMAGE_EXTS", "MAX_PIXELS", "MAX_PIXELS_ENV", "max_pixels_limit", "read_image",
           "decode_image",
           "read_mask", "write_png", "write_json", "write_npz", "check_output_file",
           "check_output_dir", "list_images", "images_in_sub_folders", "output_names",
           "output_renamings", "report_renamings", "failure_reason", "process_batch", "report_failures",
           "image_to_tensor"]


def _show_path(path: PathLike) -> str:
    """A path for a one-line message: as given, or its ``repr`` when it holds control characters (a newline)."""
    s = str(path)
    return s if s.isprintable() else repr(s)


class ImageReadError(UserError):
    """An image file could not be read; the message is one line, ``<path>: <reason>``."""

    def __init__(self, path: PathLike, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line
        super().__init__(f"{_show_path(path)}: {self.reason}")


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return msg or type(exc).__name__


# ------------------------------------------------------------------------------------------------ pixel limit
def max_pixels_limit(max_pixels: Optional[float] = None) -> Tuple[float, bool]:
    """The pixel limit in force: ``max_pixels`` when given, else ``$STRUCTNET_MAX_PIXELS``, else :data:`MAX_PIXELS`.

    Returns ``(limit, from_argument)``. ``inf`` means no limit. A limit that is not a positive number raises
    :class:`~structnet.errors.UserError` naming where it came from.
    """
    if max_pixels is not None:
        source, raw = "max_pixels", max_pixels
    else:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not env:
            return float(MAX_PIXELS), False
        source, raw = MAX_PIXELS_ENV, env
    try:
        v = float(raw)
    except (TypeError, ValueError):
        v = float("nan")
    if not v > 0:  # also NaN
        raise UserError(f"{source} must be a positive number of pixels (e.g. 200000000 or 2e8), got {raw!r}")
    return v, source == "max_pixels"


def _mp(pixels: float) -> str:
    return "unlimited" if pixels == float("inf") else f"{pixels / 1e6:.4g} MP"


_PIL_LIMIT_LOCK = threading.RLock()


@contextlib.contextmanager
def _pil_limit_lifted():
    """PIL's own decompression-bomb limit switched off (structnet checks its own limit instead)."""
    from PIL import Image

    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open(path: PathLike, max_pixels: Optional[float] = None, data: Optional[bytes] = None):
    """Open, check the pixel limit from the header, take the first frame, decode, apply EXIF orientation.

    ``data``: the file's bytes (an upload; ``path`` then only names it). Returns a loaded PIL image. Every failure
    is an :class:`ImageReadError` naming ``path``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit, from_arg = max_pixels_limit(max_pixels)
    p = Path(path)
    if data is None:
        if not p.exists():
            raise ImageReadError(p, "file not found")
        if p.is_dir():
            raise ImageReadError(p, "is a directory, not an image file")

    def source():
        return p if data is None else io.BytesIO(data)

    try:
        if (p.stat().st_size if data is None else len(data)) == 0:
            raise ImageReadError(p, "empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                im = Image.open(source())  # reads the header only
            except Image.DecompressionBombError:
                # over PIL's own limit: open again without it, only to read the size for our message / limit
                with _pil_limit_lifted():
                    im = Image.open(source())
            with im:
                w, h = im.size
                if w * h > limit:
                    hint = ("the max_pixels argument" if from_arg
                            else f"set {MAX_PIXELS_ENV} to raise it")
                    raise ImageReadError(p, f"{w}x{h} = {_mp(w * h)} is over the {_mp(limit)} limit ({hint})")
                pil_limit = Image.MAX_IMAGE_PIXELS
                big = pil_limit is not None and w * h > pil_limit  # allowed by us, refused by PIL's check
                with (_pil_limit_lifted() if big else contextlib.nullcontext()):
                    try:
                        im.seek(0)
                    except EOFError:
                        pass
                    im.load()
                try:
                    out = ImageOps.exif_transpose(im)
                except Exception:  # malformed EXIF: keep the stored orientation rather than fail
                    out = None
                if out is None or out is im:
                    out = im.copy()
                out.load()
                return out
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(p, "not a recognised image format (corrupt or not an image)") from None
    except Image.DecompressionBombError as e:  # a frame / tile larger than the header said
        raise ImageReadError(p, f"image data larger than its header says ({_one_line(e)})") from None
    except MemoryError:
        raise ImageReadError(p, "not enough memory to decode it") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        # truncated JPEG/PNG ("image file is truncated"), broken chunks, permission errors, ...
        raise ImageReadError(p, f"corrupt or unreadable image data ({_one_line(e)})") from None


def _white_composite(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """colour (H, W, C) uint8, alpha (H, W) uint8 -> colour composited over white, uint8."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    out = colour.astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _gray_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Single-channel array of PIL mode ``I;16*``/``I``/``F`` -> uint8 (H, W)."""
    if mode.startswith("I;16"):
        return np.rint(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if mode == "I":
        a = arr.astype(np.float64)
        if a.size and a.max() > 255:
            a = a / 257.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if mode == "F":
        a = np.nan_to_num(arr.astype(np.float64))
        if a.size and a.max() <= 1.0:
            a = a * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    raise AssertionError(mode)


def _to_rgb_array(im, path: PathLike) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        g = _gray_to_uint8(np.asarray(im), mode)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
    elif mode in ("L", "1") and "transparency" in im.info:
        im = im.convert("LA")
        mode = "LA"
    elif mode == "RGB" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBa", "La"):  # premultiplied alpha
        im = im.convert("RGBA" if mode == "RGBa" else "LA")
        mode = im.mode
    if mode == "RGBA":
        a = np.asarray(im)
        return _white_composite(a[..., :3], a[..., 3])
    if mode == "LA":
        a = np.asarray(im)
        return _white_composite(np.repeat(a[..., :1], 3, axis=2), a[..., 1])
    if mode == "1":
        im = im.convert("L")
        mode = "L"
    if mode == "L":
        g = np.asarray(im)
        return np.repeat(g[..., None], 3, axis=2)
    if mode != "RGB":
        try:
            im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
        except (ValueError, OSError) as e:
            raise ImageReadError(path, f"unsupported image mode {mode!r} ({_one_line(e)})") from None
    arr = np.asarray(im)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageReadError(path, f"unsupported image mode {mode!r}")
    return arr


def read_image(path: PathLike, max_pixels: Optional[float] = None) -> np.ndarray:
    """Read any common image file as RGB.

    Returns ``uint8`` array ``(H, W, 3)``, RGB, display orientation (EXIF applied), alpha composited on white,
    first frame of multi-frame files (see the module docstring for every mode).
    Raises :class:`ImageReadError` (one line, naming the file) for missing / corrupt / non-image files and for
    files whose header claims more than ``max_pixels`` pixels (default: ``$STRUCTNET_MAX_PIXELS`` or
    :data:`MAX_PIXELS`; checked before decoding).
    """
    im = _open(path, max_pixels)
    arr = _to_rgb_array(im, path)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(path, f"empty image ({arr.shape[1]}x{arr.shape[0]})")
    return np.ascontiguousarray(arr)


def decode_image(data: bytes, name: str = "upload", max_pixels: Optional[float] = None) -> np.ndarray:
    """:func:`read_image` of a file's bytes (an upload): the same modes, orientation and pixel limit; errors are
    :class:`ImageReadError` naming ``name``."""
    im = _open(name, max_pixels, data=bytes(data))
    arr = _to_rgb_array(im, name)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(name, f"empty image ({arr.shape[1]}x{arr.shape[0]})")
    return np.ascontiguousarray(arr)


def read_mask(path: PathLike, threshold: int = 128, max_pixels: Optional[float] = None) -> np.ndarray:
    """Read a figure-ground mask file as ``bool (H, W)``: foreground where the grey value ``>= threshold``.

    The grey value is the 8-bit value of a 1-channel file (16-bit files scaled to 8 bit as in
    :func:`read_image`); colour / palette files use PIL's luminance (``L = 0.299 R + 0.587 G + 0.114 B``)
    of their colours; **alpha is ignored** for masks. EXIF orientation and first-frame rules as
    :func:`read_image`. ``threshold`` is in 8-bit units (1..255), so ``{0, 255}`` masks read exactly. ``max_pixels``
    as :func:`read_image`.
    """
    if not 1 <= int(threshold) <= 255:
        raise ValueError(f"read_mask: threshold must be in 1..255, got {threshold!r} (file {str(path)!r})")
    im = _open(path, max_pixels)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        g = _gray_to_uint8(np.asarray(im), mode)
    elif mode in ("L", "1"):
        g = np.asarray(im.convert("L"))
    elif mode in ("LA", "La"):
        g = np.asarray(im)[..., 0] if mode == "LA" else np.asarray(im.convert("LA"))[..., 0]
    else:
        try:
            rgb = im.convert("RGB")
        except (ValueError, OSError) as e:
            raise ImageReadError(path, f"unsupported image mode {mode!r} ({_one_line(e)})") from None
        g = np.asarray(rgb.convert("L"))
    if g.ndim != 2 or g.size == 0:
        raise ImageReadError(path, f"not a usable mask (shape {g.shape})")
    return g >= int(threshold)


def write_png(path: PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as a PNG, atomically (temporary file in the same folder, then :func:`os.replace`).

    ``array``: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, dtype ``uint8`` or ``uint16``
    (16-bit PNG); ``bool`` is written as 8-bit 0/255. Parent folders are created. Returns the path.
    """
    import cv2

    p = Path(path)
    a = np.asarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png({str(p)!r}): dtype must be uint8, uint16 or bool, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[..., ::-1]  # RGB -> BGR for OpenCV
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., [2, 1, 0, 3]]
    elif a.ndim != 2:
        raise ValueError(f"write_png({str(p)!r}): shape must be (H, W), (H, W, 1|3|4), got {tuple(np.shape(array))}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"write_png({str(p)!r}): empty image of shape {tuple(np.shape(array))}")
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(a))
    if not ok:
        raise ValueError(f"write_png({str(p)!r}): PNG encoding failed")
    return atomic_write(p, lambda f: f.write(buf.tobytes()))


def write_json(path: PathLike, obj) -> Path:
    """``obj`` as indented JSON (UTF-8, trailing newline), written atomically."""
    import json

    data = (json.dumps(obj, indent=1) + "\n").encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def write_npz(path: PathLike, **arrays) -> Path:
    """Compressed NPZ of ``arrays``, written atomically."""
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def _writable_ancestor(path: Path, what: str) -> None:
    """UserError unless the nearest existing folder above ``path`` is a writable folder (``what`` names the path in
    the message); a file on the way (``f.txt/sub``) is refused too."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{what}: {_show_path(parent)} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"{what}: folder {_show_path(parent)} is not writable")
            return


def check_output_file(path: PathLike, flag: str) -> Path:
    """``path`` as a file to be written (``--json r.json``): UserError ``<flag> <path>: ...`` in one line when it
    is a folder, an existing file that is not writable, or under a folder that is missing and cannot be made or is
    not writable. Returns the path."""
    p = Path(path)
    what = f"{flag} {_show_path(p)}"
    if p.is_dir():
        raise UserError(f"{what}: is a folder; give a file name, e.g. {_show_path(p / 'result.json')}")
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{what}: the file is not writable")
    _writable_ancestor(p, what)
    return p


def check_output_dir(path: PathLike, flag: str) -> Path:
    """``path`` as a folder to write into (``--out``, ``train.out_dir``): UserError ``<flag> <path>: ...`` in one
    line when it is a file, or a folder (or its nearest existing parent) that is not writable. Returns the path."""
    p = Path(path)
    what = f"{flag} {_show_path(p)}"
    if p.exists() and not p.is_dir():
        raise UserError(f"{what}: is a file, not a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise UserError(f"{what}: the folder is not writable")
    else:
        _writable_ancestor(p, what)
    return p


def images_in_sub_folders(paths_or_dirs: Union[PathLike, Iterable[PathLike]],
                          exts: Sequence[str] = IMAGE_EXTS) -> int:
    """How many image files (by extension) lie in sub-folders of the folders among ``paths_or_dirs``: what
    :func:`list_images` leaves out without ``recursive``."""
    if isinstance(paths_or_dirs, (str, os.PathLike)):
        paths_or_dirs = [paths_or_dirs]
    want = {e.lower() if e.startswith(".") else "." + e.lower() for e in exts}
    n = 0
    for item in paths_or_dirs:
        p = Path(item)
        if p.is_dir():
            n += sum(1 for q in p.rglob("*") if q.parent != p and q.suffix.lower() in want and q.is_file())
    return n


def list_images(paths_or_dirs: Union[PathLike, Iterable[PathLike]], exts: Sequence[str] = IMAGE_EXTS,
                recursive: bool = False) -> List[Path]:
    """Expand a path or a list of paths into image files.

    A directory contributes its files whose extension (case-insensitive) is in ``exts``, sorted by name
    (``recursive=True``: all sub-folders too, sorted by relative path). A path that is not a directory is kept
    as given, whatever its extension and even if it does not exist, so a later read reports it by name as a
    failure rather than silently skipping it. Order is preserved; duplicates are dropped.

    When the result is empty (no paths given, or only folders without images) this raises
    :class:`~structnet.errors.UserError` ``no images in <dir> (looked for .jpg, .jpeg, ...)``: empty work is an
    error, not a silent success.
    """
    if isinstance(paths_or_dirs, (str, os.PathLike)):
        paths_or_dirs = [paths_or_dirs]
    want = {e.lower() if e.startswith(".") else "." + e.lower() for e in exts}
    out: List[Path] = []
    seen = set()
    dirs: List[Path] = []
    for item in paths_or_dirs:
        p = Path(item)
        if p.is_dir():
            dirs.append(p)
            it = p.rglob("*") if recursive else p.iterdir()
            found = sorted((q for q in it if q.is_file() and q.suffix.lower() in want),
                           key=lambda q: q.relative_to(p).as_posix())
        else:
            found = [p]
        for q in found:
            if q not in seen:
                seen.add(q)
                out.append(q)
    if not out:
        if not dirs:
            raise UserError("no input paths given")
        looked = ", ".join(e if e.startswith(".") else "." + e for e in exts)
        where = ", ".join(_show_path(d) for d in dirs)
        hint = ""
        if not recursive and any(q.is_dir() for d in dirs for q in d.iterdir()):
            hint = "; sub-folders are not searched without --recursive"
        raise UserError(f"no images in {where} (looked for {looked}{hint})")
    return out


def output_names(paths: Iterable[PathLike]) -> Dict[Path, str]:
    """A distinct output name (file stem for ``<name>_skeleton.png``, ``<name>_skeleton.npz``, ...) for every input
    path.

    * an input whose stem no other input shares keeps its stem: ``photos/cat.jpg -> "cat"``;
    * inputs sharing a stem -- compared case-insensitively, as macOS / Windows file systems do -- get
      ``<stem>_<extension>``: ``img.bmp, img.tiff -> "img_bmp", "img_tiff"``;
    * if that still collides (same stem and extension in different folders), the path relative to the common
      folder of the inputs sharing the stem, its parts joined with ``"__"``:
      ``a/x.jpg, b/x.jpg -> "a__x_jpg", "b__x_jpg"``;
    * if even that collides (``x.jpg`` and ``x.JPG`` side by side), that name + ``_1``, ``_2``, ... (the first free
      one, in the order of the absolute paths).

    A renamed input never takes a name that another input's rule already gives it. The result depends only on the
    set of paths, and no two names are equal, ignoring case. Paths are keyed as ``Path(p)``; duplicates count
    once. :func:`output_renamings` lists the inputs that did not keep their stem.
    """
    ps = list(dict.fromkeys(Path(p) for p in paths))
    groups: Dict[str, List[Path]] = {}
    for p in ps:
        groups.setdefault(p.stem.casefold(), []).append(p)
    names: Dict[Path, str] = {}
    taken = set()
    for p in ps:
        if len(groups[p.stem.casefold()]) == 1:
            names[p] = p.stem
            taken.add(p.stem.casefold())

    def with_ext(p: Path) -> str:
        return f"{p.stem}_{p.suffix[1:]}" if p.suffix[1:] else p.stem

    def with_folders(p: Path) -> str:
        group = [os.path.abspath(q) for q in groups[p.stem.casefold()]]
        try:
            common = os.path.commonpath([os.path.dirname(q) for q in group])
            rel = Path(os.path.relpath(os.path.dirname(os.path.abspath(p)), common))
            parts = [] if str(rel) == "." else list(rel.parts)
        except ValueError:  # different drives (Windows)
            parts = [x for x in Path(os.path.abspath(p)).parent.parts[1:]]
        return "__".join(parts + [with_ext(p)])

    pending = [p for p in ps if p not in names]
    for rule in (with_ext, with_folders):
        cand = {p: rule(p) for p in pending}
        count: Dict[str, int] = {}
        for c in cand.values():
            count[c.casefold()] = count.get(c.casefold(), 0) + 1
        for p in pending:
            c = cand[p]
            if count[c.casefold()] == 1 and c.casefold() not in taken:
                names[p] = c
                taken.add(c.casefold())
        pending = [p for p in pending if p not in names]
    for p in sorted(pending, key=lambda q: (os.path.abspath(q), str(q))):
        base = with_folders(p)
        k = 1
        while f"{base}_{k}".casefold() in taken:
            k += 1
        names[p] = f"{base}_{k}"
        taken.add(names[p].casefold())
    return {p: names[p] for p in ps}


def output_renamings(names: Mapping[Path, str]) -> List[Tuple[Path, str]]:
    """The ``(path, name)`` pairs of :func:`output_names`'s result whose name is not the path's stem, in order."""
    return [(Path(p), n) for p, n in names.items() if n != Path(p).stem]


def report_renamings(names: Mapping[Path, str], stream: TextIO = None) -> int:
    """Say which inputs did not keep their stem as output name (one line each) on ``stream`` (default stderr).

    Returns how many were renamed (0: nothing printed)."""
    stream = sys.stderr if stream is None else stream
    ren = output_renamings(names)
    if ren:
        print(f"{len(ren)} input(s) share a file name stem with another input; their outputs are named:", file=stream)
        for p, n in ren:
            print(f"  {_show_path(p)} -> {n}", file=stream)
    return len(ren)


def failure_reason(path: PathLike, e: BaseException) -> str:
    """The one-line reason for ``path``'s failure ``e``, without the path (which the report prints in front):
    an :class:`ImageReadError`'s reason, a UserError's message (a leading ``"<path>: "`` removed), else
    ``Type: message``. Used by :func:`process_batch`; batch loops of their own should use it too."""
    if isinstance(e, ImageReadError):
        return e.reason
    msg = _one_line(e)
    for prefix in (f"{path}: ", f"{_show_path(path)}: "):
        if msg.startswith(prefix) and len(msg) > len(prefix):  # the path is printed in front anyway
            msg = msg[len(prefix):]
            break
    if isinstance(e, UserError):
        return msg
    if isinstance(e, MemoryError):
        return "not enough memory" + ("" if msg == "MemoryError" else f" (MemoryError: {msg})")
    return msg if msg == type(e).__name__ else f"{type(e).__name__}: {msg}"


def process_batch(paths: Iterable[PathLike], fn: Callable[[PathLike], T]
                  ) -> Tuple[List[T], List[Tuple[str, str]]]:
    """Call ``fn(path)`` for every path; an exception for one file is caught and the batch continues.

    Returns ``(results, failures)``: ``results`` holds ``fn``'s return values of the files that worked (in order),
    ``failures`` is ``[(path, one-line reason)]`` (the reason does not repeat the path; a
    :class:`~structnet.errors.UserError` gives its message, another exception ``Type: message``).
    ``KeyboardInterrupt`` / ``SystemExit`` still stop the batch.
    """
    results: List[T] = []
    failures: List[Tuple[str, str]] = []
    for path in paths:
        try:
            results.append(fn(path))
        except Exception as e:  # noqa: BLE001 -- per-file isolation is the point
            failures.append((str(path), failure_reason(path, e)))
    return results, failures


def report_failures(failures: Sequence[Tuple[str, str]], stream: TextIO = None) -> int:
    """Print ``failures`` from :func:`process_batch` (one line each, ``  <path>: <reason>``) to ``stream``
    (default stderr).

    Returns the number of failures, so a CLI can ``return 1 if report_failures(...) else 0``.
    """
    stream = sys.stderr if stream is None else stream
    if failures:
        print(f"{len(failures)} file(s) failed:", file=stream)
        for path, reason in failures:
            print(f"  {_show_path(path)}: {' '.join(str(reason).split())}", file=stream)
    return len(failures)


def image_to_tensor(img: np.ndarray) -> np.ndarray:
    """Image ``(H, W, 3)`` (or ``(H, W)`` grey) -> ``float32 (3, H, W)`` in [0, 1] (numpy, not torch).

    ``uint8`` is divided by 255, ``uint16`` by 65535, ``bool`` maps to {0, 1}; float input is taken as already in
    [0, 1] and clipped. Use ``torch.from_numpy`` on the result for a tensor.
    """
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"image_to_tensor: expected (H, W, 3) or (H, W), got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.dtype == np.uint8:
        x = a.astype(np.float32) / np.float32(255.0)
    elif a.dtype == np.uint16:
        x = a.astype(np.float32) / np.float32(65535.0)
    elif a.dtype == np.bool_:
        x = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.floating):
        x = np.clip(a.astype(np.float32), 0.0, 1.0)
    else:
        raise ValueError(f"image_to_tensor: unsupported dtype {a.dtype}")
    return np.ascontiguousarray(x.transpose(2, 0, 1))
