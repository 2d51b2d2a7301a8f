"""Robust image I/O: odd modes, EXIF orientation, corrupt files, batch processing."""
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from structnet.data.io import (ImageReadError, image_to_tensor, list_images, output_names, output_renamings,
                               process_batch, read_image, read_mask, report_failures, report_renamings, write_json,
                               write_npz, write_png)
from structnet.errors import UserError


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def test_grayscale_l_replicated(tmp_path):
    a = np.array([[0, 100], [200, 255]], np.uint8)
    out = read_image(_save(Image.fromarray(a, "L"), tmp_path / "g.png"))
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], a) and np.array_equal(out[..., 1], a) and np.array_equal(out[..., 2], a)


def test_la_and_rgba_composited_on_white(tmp_path):
    la = np.array([[[50, 255], [50, 0]]], np.uint8)  # opaque grey 50, fully transparent
    out = read_image(_save(Image.fromarray(la, "LA"), tmp_path / "la.png"))
    assert out[0, 0].tolist() == [50, 50, 50] and out[0, 1].tolist() == [255, 255, 255]
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]], np.uint8)
    out = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png"))
    assert out.shape == (1, 3, 3)
    assert out[0, 0].tolist() == [255, 255, 255]          # transparent red -> white background
    assert out[0, 1].tolist() == [0, 0, 255]              # opaque blue stays blue
    assert np.all(np.abs(out[0, 2].astype(int) - 127) <= 1)  # half-transparent black -> mid grey


def test_16bit_png_scaled_to_8bit(tmp_path):
    a = np.array([[0, 257 * 100, 65535, 300]], np.uint16)
    p = tmp_path / "d16.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I")
    out = read_image(p)
    assert out.dtype == np.uint8 and out[0, :, 0].tolist() == [0, 100, 255, 1]


def test_palette_and_palette_transparency(tmp_path):
    im = Image.new("P", (3, 1))
    im.putpalette([0, 0, 0, 10, 200, 30, 90, 90, 90] + [0] * (768 - 9))
    im.putdata([0, 1, 2])
    out = read_image(_save(im, tmp_path / "p.png"))
    assert out[0].tolist() == [[0, 0, 0], [10, 200, 30], [90, 90, 90]]
    out = read_image(_save(im, tmp_path / "pt.png", transparency=0))
    assert out[0].tolist() == [[255, 255, 255], [10, 200, 30], [90, 90, 90]]


def test_cmyk_jpeg(tmp_path):
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    p = _save(im, tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(p).mode == "CMYK"
    out = read_image(p)
    assert out.shape == (16, 16, 3)
    assert np.all(np.abs(out.reshape(-1, 3).mean(0) - [255, 0, 0]) < 8)


def test_exif_orientation_6_applied(tmp_path):
    # stored: 20 rows x 40 columns, grey with a red block at the stored top-left corner
    a = np.full((20, 40, 3), 128, np.uint8)
    a[:8, :8] = (255, 0, 0)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    p = _save(im, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(p)
    assert out.shape == (40, 20, 3)                   # displayed portrait
    tr = out[1:6, -6:-1].reshape(-1, 3).mean(0)       # stored top-left -> displayed top-right
    assert tr[0] > 200 and tr[1] < 60 and tr[2] < 60
    tl = out[1:6, 1:6].reshape(-1, 3).mean(0)
    assert np.all(np.abs(tl - 128) < 20)


def test_multiframe_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    out = read_image(p)
    assert out.shape == (4, 4, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 50


@pytest.mark.parametrize("kind", ["truncated", "text", "missing", "directory"])
def test_bad_files_raise_one_line_error_naming_file(tmp_path, kind):
    if kind == "truncated":
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
        p = tmp_path / "trunc.jpg"
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif kind == "text":
        p = tmp_path / "notes.png"
        p.write_text("this is not an image\n")
    elif kind == "missing":
        p = tmp_path / "nothere.png"
    else:
        p = tmp_path / "adir.png"
        p.mkdir()
    with pytest.raises(ImageReadError) as ei:
        read_image(p)
    msg = str(ei.value)
    assert str(p) in msg and "\n" not in msg
    assert isinstance(ei.value, ValueError)
    with pytest.raises(ImageReadError):
        read_mask(p)


def test_read_mask_threshold_and_modes(tmp_path):
    a = np.array([[0, 127, 128, 255]], np.uint8)
    p = _save(Image.fromarray(a, "L"), tmp_path / "m.png")
    assert read_mask(p).tolist() == [[False, False, True, True]]
    assert read_mask(p, threshold=200).tolist() == [[False, False, False, True]]
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 1] = 255
    assert read_mask(_save(Image.fromarray(rgb), tmp_path / "rgb.png")).tolist() == [[False, True]]
    a16 = np.array([[0, 65535]], np.uint16)
    assert read_mask(_save(Image.fromarray(a16), tmp_path / "m16.png")).tolist() == [[False, True]]
    with pytest.raises(ValueError, match="threshold"):
        read_mask(p, threshold=0)


def test_write_png_roundtrip_atomic(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    p = write_png(tmp_path / "a" / "b" / "rgb.png", rgb)
    assert np.array_equal(np.asarray(Image.open(p)), rgb)
    g16 = rng.integers(0, 65536, (4, 6), dtype=np.uint16)
    p16 = write_png(tmp_path / "g16.png", g16)
    assert np.array_equal(np.asarray(Image.open(p16)).astype(np.uint16), g16)
    rgba = rng.integers(0, 256, (3, 3, 4), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(write_png(tmp_path / "rgba.png", rgba))), rgba)
    b = np.array([[True, False]])
    assert np.asarray(Image.open(write_png(tmp_path / "b.png", b))).tolist() == [[255, 0]]
    assert sorted(q.name for q in tmp_path.rglob("*.tmp")) == []  # no temporary files left behind
    with pytest.raises(ValueError, match="dtype"):
        write_png(tmp_path / "f.png", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_png(tmp_path / "s.png", np.zeros((2, 2, 2), np.uint8))


def test_list_images(tmp_path):
    for n in ("b.png", "a.JPG", "c.txt", "d.jpeg"):
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.png").write_bytes(b"x")
    got = list_images(tmp_path)
    assert [p.name for p in got] == ["a.JPG", "b.png", "d.jpeg"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.JPG", "b.png", "d.jpeg", "e.png"]
    missing = tmp_path / "missing.png"
    got = list_images([missing, tmp_path / "sub", tmp_path / "sub" / "e.png"])
    assert got == [missing, tmp_path / "sub" / "e.png"]  # explicit paths kept; duplicates dropped
    assert [p.name for p in list_images(tmp_path, exts=("txt",))] == ["c.txt"]


def test_process_batch_continues_past_failures(tmp_path):
    good = write_png(tmp_path / "good.png", np.zeros((3, 4, 3), np.uint8))
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    missing = tmp_path / "missing.png"
    good2 = write_png(tmp_path / "good2.png", np.full((2, 2), 9, np.uint8))
    results, failures = process_batch([good, bad, missing, good2], lambda p: read_image(p).shape)
    assert results == [(3, 4, 3), (2, 2, 3)]
    assert [f[0] for f in failures] == [str(bad), str(missing)]
    assert all("\n" not in why and why for _, why in failures)
    assert "not found" in failures[1][1]

    def boom(p):
        raise RuntimeError("kaput\nsecond line")

    _, fails = process_batch([good], boom)
    assert fails == [(str(good), "RuntimeError: kaput second line")]
    out = io.StringIO()
    assert report_failures(failures, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "2 file(s) failed:" and str(bad) in lines[1] and str(missing) in lines[2]
    assert report_failures([], out) == 0


def test_image_to_tensor():
    img = np.array([[[0, 255, 51]]], np.uint8)
    t = image_to_tensor(img)
    assert t.shape == (3, 1, 1) and t.dtype == np.float32
    assert np.allclose(t[:, 0, 0], [0.0, 1.0, 0.2])
    assert image_to_tensor(np.zeros((4, 5), np.uint8)).shape == (3, 4, 5)
    assert image_to_tensor(np.full((2, 2, 3), 65535, np.uint16)).max() == 1.0
    with pytest.raises(ValueError):
        image_to_tensor(np.zeros((2, 2, 2), np.uint8))


def test_image_read_error_is_a_one_line_user_error(tmp_path):
    e = ImageReadError(tmp_path / "x.png", "bad\nthing")
    assert isinstance(e, UserError) and isinstance(e, ValueError)
    assert str(e) == f"{tmp_path / 'x.png'}: bad thing" and e.reason == "bad thing"
    assert str(ImageReadError("a\nb.png", "r")) == "'a\\nb.png': r"  # a newline in a path stays on one line


def test_zero_byte_file(tmp_path):
    p = tmp_path / "zero.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageReadError, match="zero.jpg: empty file"):
        read_image(p)


@pytest.mark.parametrize("writer", ["png", "json", "npz"])
def test_written_files_get_the_default_mode_not_0600(tmp_path, writer):
    import os
    import stat

    old = os.umask(0o022)
    try:
        if writer == "png":
            p = write_png(tmp_path / "r.png", np.zeros((2, 2), np.uint8))
        elif writer == "json":
            p = write_json(tmp_path / "r.json", {"a": 1})
        else:
            p = write_npz(tmp_path / "r.npz", a=np.zeros(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert sorted(q.name for q in tmp_path.iterdir()) == [p.name]  # no temporary file left


def test_list_images_no_images_is_a_user_error(tmp_path):
    empty = tmp_path / "e"
    empty.mkdir()
    with pytest.raises(UserError) as ei:
        list_images(empty)
    assert str(ei.value) == (f"no images in {empty} (looked for .jpg, .jpeg, .png, .bmp, .gif, .tif, .tiff, .webp, "
                             ".ppm, .pgm, .pbm)")
    (empty / "readme.txt").write_text("x")
    other = tmp_path / "o"
    other.mkdir()
    with pytest.raises(UserError, match=f"no images in {empty}, {other} "):
        list_images([empty, other])
    # a missing path is kept, so the batch reports it by name; an empty folder next to images is no error
    (other / "a.png").write_bytes(b"x")
    assert list_images([empty, other, tmp_path / "gone.jpg"]) == [other / "a.png", tmp_path / "gone.jpg"]


def test_output_names_unique_stems_kept():
    names = output_names(["a/cat.jpg", "b/dog.png", "fish.tiff"])
    assert names == {Path("a/cat.jpg"): "cat", Path("b/dog.png"): "dog", Path("fish.tiff"): "fish"}
    assert output_renamings(names) == []


def test_output_names_known_answers():
    # same stem, different extension: stem_extension
    assert output_names(["img.bmp", "img.tiff", "other.png"]) == {
        Path("img.bmp"): "img_bmp", Path("img.tiff"): "img_tiff", Path("other.png"): "other"}
    assert output_names(["a/x.jpg", "b/x.png"]) == {Path("a/x.jpg"): "x_jpg", Path("b/x.png"): "x_png"}
    # same stem and extension in different folders: path from the common folder joined with "__"
    assert output_names(["data/a/x.jpg", "data/b/x.jpg"]) == {
        Path("data/a/x.jpg"): "a__x_jpg", Path("data/b/x.jpg"): "b__x_jpg"}
    assert output_names(["q/r/s/x.png", "q/t/x.png", "q/t/x.jpg"]) == {
        Path("q/r/s/x.png"): "r__s__x_png", Path("q/t/x.png"): "t__x_png", Path("q/t/x.jpg"): "x_jpg"}
    # case-insensitive collisions (macOS / Windows file systems)
    assert output_names(["Photo.jpg", "photo.png"]) == {Path("Photo.jpg"): "Photo_jpg", Path("photo.png"): "photo_png"}
    assert output_names(["a/y.JPG", "b/y.jpg"]) == {Path("a/y.JPG"): "a__y_JPG", Path("b/y.jpg"): "b__y_jpg"}
    # even the relative path collides (x.jpg and x.JPG side by side on a case-sensitive disk): numbered
    assert output_names(["d/z.jpg", "d/z.JPG"]) == {Path("d/z.jpg"): "z_jpg_2", Path("d/z.JPG"): "z_JPG_1"}
    # a renamed input never takes a name another input keeps: x_jpg.png keeps "x_jpg", so x.jpg moves on
    assert output_names(["x.jpg", "x.png", "x_jpg.png"]) == {
        Path("x.jpg"): "x_jpg_1", Path("x.png"): "x_png", Path("x_jpg.png"): "x_jpg"}
    assert output_names(["k/x.jpg", "m/x.png", "x_jpg.png"]) == {
        Path("k/x.jpg"): "k__x_jpg", Path("m/x.png"): "x_png", Path("x_jpg.png"): "x_jpg"}
    # no extension at all
    assert output_names(["u/v", "w/v"]) == {Path("u/v"): "u__v", Path("w/v"): "w__v"}
    assert output_names([]) == {}


def test_output_names_distinct_deterministic_and_order_free():
    paths = ["a/x.jpg", "b/x.jpg", "b/X.jpg", "c/x.JPG", "x.png", "X.PNG", "x_png.bmp", "img.bmp", "img.tiff",
             "a/img.bmp", "Img.Bmp", "solo.gif", "a/x.jpg"]
    names = output_names(paths)
    assert list(names) == list(dict.fromkeys(Path(p) for p in paths))  # input order, duplicates once
    vals = [n.casefold() for n in names.values()]
    assert len(set(vals)) == len(vals)  # never two equal names, ignoring case
    assert names[Path("solo.gif")] == "solo" and names[Path("x_png.bmp")] == "x_png"
    assert all("/" not in n and "\\" not in n for n in names.values())
    rev = output_names(list(reversed(paths)))
    assert rev == names  # the same names whatever the order
    assert output_names(paths) == names


def test_output_renamings_and_report(tmp_path):
    import io as _io

    names = output_names(["a/x.jpg", "b/x.png", "keep.png"])
    assert output_renamings(names) == [(Path("a/x.jpg"), "x_jpg"), (Path("b/x.png"), "x_png")]
    buf = _io.StringIO()
    assert report_renamings(names, buf) == 2
    assert buf.getvalue().splitlines() == [
        "2 input(s) share a file name stem with another input; their outputs are named:",
        f"  {Path('a/x.jpg')} -> x_jpg", f"  {Path('b/x.png')} -> x_png"]
    buf = _io.StringIO()
    assert report_renamings(output_names(["keep.png"]), buf) == 0 and buf.getvalue() == ""


def test_process_batch_failure_reasons_one_line_without_repeating_the_path(tmp_path):
    p = tmp_path / "f.png"

    def user(_):
        raise UserError(f"{p}: box outside the image")

    def mem(_):
        raise MemoryError()

    def other(_):
        raise KeyError("joint")

    _, f = process_batch([p], user)
    assert f == [(str(p), "box outside the image")]
    _, f = process_batch([p], mem)
    assert f == [(str(p), "not enough memory")]
    _, f = process_batch([p], other)
    assert f == [(str(p), "KeyError: 'joint'")]
    buf = io.StringIO()
    report_failures([("a\nb.png", "two\nlines")], buf)
    assert buf.getvalue().splitlines() == ["1 file(s) failed:", "  'a\\nb.png': two lines"]
