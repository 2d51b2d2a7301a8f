"""The bad-input corpus: every image kind a user may hand to ``read_image`` and ``structnet predict``.

Good files must read as ``uint8 (H, W, 3)`` with the right content; bad files must raise a one-line
:class:`ImageReadError` naming the file; the CLI must process the good ones, list the bad ones by name, never show a
traceback, exit 1 when some failed and 2 (one line) when there is nothing to do.
"""
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import structnet.tasks
from structnet.data.io import ImageReadError, list_images, output_names, read_image
from structnet.errors import UserError

SIDE = 48  # corpus images are at most 64x64 so the CLI runs stay fast


def _pattern(h=SIDE, w=SIDE) -> np.ndarray:
    """A deterministic RGB image with distinct rows, columns and channels."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 5) % 256, (y * 5) % 256, ((x + y) * 3 + 40) % 256], axis=-1).astype(np.uint8)


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _huge_header_png(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width x height`` (CRC fixed up, so only decoding would fail)."""
    b = bytearray(_png_bytes(Image.new("L", (8, 8), 0)))
    assert b[12:16] == b"IHDR"
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    return bytes(b)


def _expected_16_to_8(v16: np.ndarray) -> np.ndarray:
    return np.rint(v16.astype(np.float64) / 257.0).astype(np.uint8)


def build_corpus(root: Path):
    """Write the corpus under ``root``. Returns ``(good, bad, dirs)``: ``good`` maps path -> expected content
    (an array compared with a tolerance, or a callable check), ``bad`` maps path -> a substring of the reason,
    ``dirs`` are the sub-folders that hold the stem collision ``a/x.jpg`` + ``b/x.png``."""
    root.mkdir(parents=True, exist_ok=True)
    good, bad = {}, {}
    rgb = _pattern()

    g = rgb[..., 0]
    Image.fromarray(g, "L").save(root / "grey.png")
    good[root / "grey.png"] = (np.repeat(g[..., None], 3, axis=2), 0)

    rgba = np.dstack([rgb, np.where(np.arange(SIDE)[None, :] < SIDE // 2, 255, 0).repeat(SIDE, 0).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    exp = rgb.copy()
    exp[:, SIDE // 2:] = 255  # transparent half composited on white
    good[root / "rgba.png"] = (exp, 0)

    g16 = (np.arange(SIDE * SIDE, dtype=np.uint32).reshape(SIDE, SIDE) * 28 % 65536).astype(np.uint16)
    Image.fromarray(g16).save(root / "grey16.png")
    good[root / "grey16.png"] = (np.repeat(_expected_16_to_8(g16)[..., None], 3, axis=2), 0)

    import cv2

    rgb16 = rgb.astype(np.uint16) * 257 + 100
    assert cv2.imwrite(str(root / "rgb16.png"), np.ascontiguousarray(rgb16[..., ::-1]))
    good[root / "rgb16.png"] = (_expected_16_to_8(rgb16), 1)  # PIL keeps the high byte: within 1 of rounding

    pal = Image.new("P", (SIDE, SIDE))
    colours = [(0, 0, 0), (10, 200, 30), (250, 20, 90), (90, 90, 90)]
    pal.putpalette([c for col in colours for c in col] + [0] * (768 - 12))
    idx = (np.arange(SIDE)[None, :] // 12 + np.zeros((SIDE, 1), int)).astype(np.uint8)
    pal.putdata(idx.ravel().tolist())
    pal.save(root / "palette.png")
    good[root / "palette.png"] = (np.array(colours, np.uint8)[idx], 0)

    stored = np.full((20, 40, 3), 128, np.uint8)  # 20 rows x 40 columns, red block at the stored top-left
    stored[:8, :8] = (255, 0, 0)
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(root / "exif6.jpg", exif=exif.tobytes(), quality=95)

    def check_exif(out):
        assert out.shape == (40, 20, 3)  # displayed portrait
        tr = out[1:6, -6:-1].reshape(-1, 3).mean(0)  # stored top-left -> displayed top-right
        assert tr[0] > 200 and tr[1] < 60 and tr[2] < 60
        assert np.all(np.abs(out[1:6, 1:6].reshape(-1, 3).mean(0) - 128) < 20)
    good[root / "exif6.jpg"] = check_exif

    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(root / "cmyk.jpg", quality=95)  # pure red in CMYK
    good[root / "cmyk.jpg"] = (np.full((16, 16, 3), (255, 0, 0), np.uint8), 8)

    Image.fromarray(np.array([[[7, 8, 9]]], np.uint8)).save(root / "one.png")
    good[root / "one.png"] = (np.array([[[7, 8, 9]]], np.uint8), 0)

    Image.fromarray(rgb).save(root / "img.tiff")
    good[root / "img.tiff"] = (rgb, 0)
    bmp = rgb[::-1].copy()  # same stem as img.tiff, different content
    Image.fromarray(bmp).save(root / "img.bmp")
    good[root / "img.bmp"] = (bmp, 0)

    Image.fromarray(rgb).save(root / "pic.webp", lossless=True)
    good[root / "pic.webp"] = (rgb, 0)

    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    good[root / "anim.gif"] = (np.full((12, 16, 3), (255, 0, 0), np.uint8), 0)

    (root / "a").mkdir()
    (root / "b").mkdir()
    xa = np.full((24, 32, 3), (200, 40, 40), np.uint8)
    Image.fromarray(xa).save(root / "a" / "x.jpg", quality=95)
    good[root / "a" / "x.jpg"] = (xa, 6)
    xb = _pattern(32, 24)
    Image.fromarray(xb).save(root / "b" / "x.png")
    good[root / "b" / "x.png"] = (xb, 0)

    noise = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=90)
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    bad[root / "truncated.jpg"] = "corrupt"
    data = _png_bytes(Image.fromarray(noise))
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    bad[root / "truncated.png"] = "corrupt"
    (root / "zero.png").write_bytes(b"")
    bad[root / "zero.png"] = "empty file (0 bytes)"
    (root / "text.jpg").write_text("this is a text file, not a JPEG\n")
    bad[root / "text.jpg"] = "not a recognised image"
    (root / "huge.png").write_bytes(_huge_header_png(20000, 20000))
    bad[root / "huge.png"] = "20000x20000 = 400 MP is over the 100 MP limit (set STRUCTNET_MAX_PIXELS to raise it)"
    return good, bad, [root / "a", root / "b"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "in"
    good, bad, dirs = build_corpus(root)
    return root, good, bad, dirs


def _good_ids():
    return ["grey.png", "rgba.png", "grey16.png", "rgb16.png", "palette.png", "exif6.jpg", "cmyk.jpg", "one.png",
            "img.tiff", "img.bmp", "pic.webp", "anim.gif", "a/x.jpg", "b/x.png"]


def _bad_ids():
    return ["truncated.jpg", "truncated.png", "zero.png", "text.jpg", "huge.png"]


def test_corpus_lists_every_file(corpus):
    root, good, bad, _ = corpus
    assert sorted(p.relative_to(root).as_posix() for p in good) == sorted(_good_ids())
    assert sorted(p.relative_to(root).as_posix() for p in bad) == sorted(_bad_ids())


@pytest.mark.parametrize("name", _good_ids())
def test_read_image_good(corpus, name):
    root, good, _, _ = corpus
    path = root / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PIL warning of any kind
        out = read_image(path)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
    want = good[path]
    if callable(want):
        want(out)
    else:
        exp, tol = want
        assert out.shape == exp.shape
        assert np.abs(out.astype(int) - exp.astype(int)).max() <= tol


@pytest.mark.parametrize("name", _bad_ids() + ["missing.jpg"])
def test_read_image_bad_one_line_naming_file(corpus, name):
    root, _, bad, _ = corpus
    path = root / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not surface either
        with pytest.raises(ImageReadError) as ei:
            read_image(path)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    assert bad.get(path, "file not found") in msg
    assert isinstance(ei.value, UserError)


def test_huge_header_exact_message_and_limits(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    p = tmp_path / "x.png"
    p.write_bytes(_huge_header_png(20000, 20000))
    assert p.stat().st_size < 200
    monkeypatch.delenv("STRUCTNET_MAX_PIXELS", raising=False)
    pil_limit = PILImage.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError) as ei:
            read_image(p)
    assert str(ei.value) == (f"{p}: 20000x20000 = 400 MP is over the 100 MP limit "
                             "(set STRUCTNET_MAX_PIXELS to raise it)")
    assert PILImage.MAX_IMAGE_PIXELS == pil_limit  # PIL's own setting is left as it was
    # between PIL's warning threshold (89 MP) and its error threshold (179 MP): still our message, no warning
    p2 = tmp_path / "y.png"
    p2.write_bytes(_huge_header_png(12000, 10000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError, match=r"y\.png: 12000x10000 = 120 MP is over the 100 MP limit"):
            read_image(p2)
    # the environment variable and the argument move the limit
    small = tmp_path / "small.png"
    Image.fromarray(_pattern(40, 50)).save(small)
    monkeypatch.setenv("STRUCTNET_MAX_PIXELS", "1000")
    with pytest.raises(ImageReadError, match=r"small\.png: 50x40 = 0\.002 MP is over the 0\.001 MP limit"):
        read_image(small)
    assert read_image(small, max_pixels=2000).shape == (40, 50, 3)
    with pytest.raises(ImageReadError, match="max_pixels argument"):
        read_image(small, max_pixels=1999)
    monkeypatch.setenv("STRUCTNET_MAX_PIXELS", "lots")
    with pytest.raises(UserError, match="STRUCTNET_MAX_PIXELS must be a positive number.*'lots'"):
        read_image(small)
    with pytest.raises(UserError, match="max_pixels must be a positive number"):
        read_image(small, max_pixels=0)
    # raising the limit above PIL's own error threshold (179 MP) reaches the decoder (which then finds the
    # data truncated) instead of PIL's DecompressionBombError
    monkeypatch.setenv("STRUCTNET_MAX_PIXELS", "5e8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError) as ei:
            read_image(p)
    assert "DecompressionBomb" not in str(ei.value) and "over the" not in str(ei.value)
    assert PILImage.MAX_IMAGE_PIXELS == pil_limit


def test_list_images_empty_dir_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError) as ei:
        list_images(empty)
    assert str(ei.value).startswith(f"no images in {empty} (looked for .jpg, .jpeg, .png")
    (empty / "notes.txt").write_text("x")
    (empty / "sub").mkdir()
    (empty / "sub" / "a.png").write_bytes(b"x")
    with pytest.raises(UserError, match="sub-folders are not searched"):
        list_images(empty)
    assert list_images(empty, recursive=True) == [empty / "sub" / "a.png"]
    with pytest.raises(UserError, match="no input paths given"):
        list_images([])


# ------------------------------------------------------------------------------------------------ the CLI
def _run_cli(argv, capsys):
    from structnet.cli import main

    capsys.readouterr()
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _inputs(corpus):
    root, _, _, dirs = corpus
    return [str(root), *map(str, dirs), str(root / "missing.jpg")]


#: every registered task; flags that keep its predict quick on the corpus (a task not listed runs as is)
TASKS = structnet.tasks.names()
FAST = {"skeleton": ["--max-side", "64"], "pose2d": ["--no-flip"],
        "pose3d": ["--min-joints", "0", "--min-leg-joints", "0"]}  # the corpus shows no person


@pytest.fixture(scope="module")
def cli_runs():
    """One CLI run per task over the corpus, shared by the tests below (model loading dominates the time)."""
    return {}


def _cli(task, corpus, tmp_path_factory, capsys, cli_runs):
    if task not in cli_runs:
        out = tmp_path_factory.mktemp(f"out_{task}")
        rc, so, se = _run_cli(["predict", task, *_inputs(corpus), "--out", str(out), *FAST.get(task, [])], capsys)
        cli_runs[task] = (rc, so, se, out)
    return cli_runs[task]


#: corpus images so small that a task may refuse them (one line naming the file, the batch goes on)
TINY = {"one.png"}


def _refused(good, fail_lines):
    return {p for p in good if any(ln.strip().startswith(f"{p}: ") for ln in fail_lines)}


def _outputs_of(out: Path, name: str):
    """The files predict wrote for output name ``name``: ``<name>`` followed by ``_`` or ``.``."""
    return sorted(p.name[len(name):] for p in out.iterdir()
                  if p.name.startswith(name) and p.name[len(name):len(name) + 1] in ("_", "."))


@pytest.mark.parametrize("task", TASKS)
def test_cli_predict_corpus(corpus, task, tmp_path_factory, capsys, cli_runs):
    root, good, bad, _ = corpus
    rc, so, se, out = _cli(task, corpus, tmp_path_factory, capsys, cli_runs)
    assert "Traceback" not in so and "Traceback" not in se
    assert "DecompressionBomb" not in se and "Warning" not in se
    assert rc == 1, (so, se)
    fail_lines = [ln for ln in se.splitlines() if ln.startswith("  ")]
    for p in [*bad, root / "missing.jpg"]:  # every failing file listed by name, on one line with its reason
        lines = [ln for ln in fail_lines if ln.strip().startswith(f"{p}: ")]
        assert len(lines) == 1, (p, se)
    huge = [ln for ln in fail_lines if "huge.png" in ln][0]
    assert "400 MP is over the 100 MP limit" in huge
    # a readable image is written, or refused by the task on one line with its reason (e.g. 1x1 pixels: too small
    # to extract an object from); every good image that reads as a photo-sized picture is written
    refused = _refused(good, fail_lines)
    assert all(p.name in TINY for p in refused), (refused, se)
    assert f"{len(good) - len(refused)} image(s) written" in so
    names = output_names(good)
    suffixes = _outputs_of(out, names[next(p for p in sorted(good) if p not in refused)])
    assert suffixes
    for p, n in names.items():  # every written image has the same set of outputs under its own name
        assert _outputs_of(out, n) == ([] if p in refused else suffixes), (p, n)
    # (images sharing a stem: test_cli_predict_distinct_outputs_for_colliding_stems)


@pytest.mark.parametrize("task", TASKS)
def test_cli_failure_lines_name_the_file_once(corpus, task, tmp_path_factory, capsys, cli_runs):
    root, _, bad, _ = corpus
    _, _, se, _ = _cli(task, corpus, tmp_path_factory, capsys, cli_runs)
    for p in [*bad, root / "missing.jpg"]:
        line = [ln for ln in se.splitlines() if ln.strip().startswith(f"{p}: ")][0]
        assert line.count(str(p)) == 1, line


@pytest.mark.parametrize("task", TASKS)
def test_cli_predict_distinct_outputs_for_colliding_stems(corpus, task, tmp_path_factory, capsys, cli_runs):
    root, good, _, _ = corpus
    rc, so, se, out = _cli(task, corpus, tmp_path_factory, capsys, cli_runs)
    names = output_names(good)
    assert len({n.casefold() for n in names.values()}) == len(good)
    refused = _refused(good, [ln for ln in se.splitlines() if ln.startswith("  ")])
    suffixes = _outputs_of(out, names[next(p for p in sorted(good) if p not in refused)])
    for p, n in names.items():
        assert _outputs_of(out, n) == ([] if p in refused else suffixes), (p, n)
    # one set of results per written image, none overwritten
    assert len(list(out.iterdir())) == (len(good) - len(refused)) * len(suffixes)
    for p, n in names.items():  # the renamings are announced
        if n != p.stem:
            assert str(p) in se and n in se


@pytest.mark.parametrize("task", TASKS)
def test_cli_empty_dir_exit_2_one_line(tmp_path, task, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, so, se = _run_cli(["predict", task, str(empty), "--out", str(tmp_path / "out"), *FAST.get(task, [])], capsys)
    assert rc == 2
    assert "Traceback" not in se
    lines = se.strip().splitlines()
    assert len(lines) == 1, se
    assert lines[0].startswith(f"structnet: error: no images in {empty} (looked for .jpg")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
