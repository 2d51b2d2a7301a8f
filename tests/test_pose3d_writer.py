"""pose3d writer: JSON record, 3D view (known-answer orientation), result panel, files on disk."""
import json
import math
import re

import numpy as np
import pytest

from structnet.data.io import read_image
from structnet.pose3d.joints import JOINTS, PART_COLORS, PARTS
from structnet.pose3d.writer import (FRAME, GRID_COLOUR, PANEL_GAP, draw_panel, draw_pose3d, pose3d_to_json,
                                     project_pose3d, write_result)

J = {n: i for i, n in enumerate(JOINTS)}
PART = {n: i for i, n in enumerate(PARTS)}

#: A T-pose in the camera frame (mm; x right, y down, z forward), hip at the origin, the subject's right at +x.
TPOSE = {
    "hip": (0, 0, 0), "right_hip": (120, 0, 0), "right_knee": (120, 450, 0), "right_foot": (120, 900, 0),
    "left_hip": (-120, 0, 0), "left_knee": (-120, 450, 0), "left_foot": (-120, 900, 0),
    "spine": (0, -250, 0), "thorax": (0, -500, 0), "neck": (0, -600, 0), "head": (0, -750, 0),
    "left_shoulder": (-180, -500, 0), "left_elbow": (-450, -500, 0), "left_wrist": (-700, -500, 0),
    "right_shoulder": (180, -500, 0), "right_elbow": (450, -500, 0), "right_wrist": (700, -500, 0),
}


def tpose(offset=(0.0, 0.0, 0.0)):
    return np.array([TPOSE[n] for n in JOINTS], dtype=np.float64) + np.asarray(offset, dtype=np.float64)


def part_mask(img, part, tol=3):
    """Pixels showing exactly ``part``'s colour (the core of its lines, not the anti-aliased edges)."""
    col = np.round(PART_COLORS[PART[part]] * 255).astype(int)
    return (np.abs(img.astype(int) - col).max(axis=2) <= tol)


def result(with_maps=True, **extra):
    rng = np.random.default_rng(0)
    res = {"joints3d": tpose((30.0, -20.0, 4000.0)), "joints2d": rng.uniform(5, 60, (17, 2))}
    if with_maps:
        res["maps"] = rng.uniform(0, 1, (6, 16, 16)).astype(np.float32)
    res.update(extra)
    return res


# ------------------------------------------------------------------------------------------------ JSON
def test_json_record_round_trip():
    res = result(hypothesis=1, hypotheses=[{"width": 4.0, "reprojection_px": 2.5},
                                           {"width": np.float32(8.0), "reprojection_px": float("inf")},
                                           {"width": 12, "crop": 1.2}])
    res["joints3d"][J["left_wrist"], 2] = np.nan
    res["joints2d"][J["head"], 0] = np.inf
    rec = json.loads(json.dumps(pose3d_to_json(res, "a/b.jpg", 64, 48)))   # strict JSON round trip
    assert rec["image"] == "a/b.jpg" and rec["width"] == 64 and rec["height"] == 48
    assert rec["units"] == "mm" and rec["frame"] == FRAME and "root-relative" in rec["frame"]
    assert [j["name"] for j in rec["joints"]] == list(JOINTS)
    assert [j["name"] for j in rec["joints_2d"]] == list(JOINTS)
    # root-relative: the absolute offset (30, -20, 4000) is removed, the hip is at 0
    assert rec["joints"][J["hip"]] == {"name": "hip", "x": 0.0, "y": 0.0, "z": 0.0}
    rw = rec["joints"][J["right_wrist"]]
    assert (rw["x"], rw["y"], rw["z"]) == pytest.approx((700.0, -500.0, 0.0))
    assert rec["joints"][J["left_wrist"]]["z"] is None and rec["joints"][J["left_wrist"]]["x"] is not None
    assert rec["joints_2d"][J["head"]]["x"] is None and rec["joints_2d"][J["head"]]["y"] is not None
    j2 = res["joints2d"][J["right_knee"]]
    assert (rec["joints_2d"][J["right_knee"]]["x"], rec["joints_2d"][J["right_knee"]]["y"]) == pytest.approx(j2)
    assert rec["hypothesis"] == 1 and type(rec["hypothesis"]) is int
    assert rec["hypotheses"] == [{"width": 4.0, "reprojection_px": 2.5}, {"width": 8.0, "reprojection_px": None},
                                 {"width": 12.0, "reprojection_px": None, "crop": 1.2}]
    raw = pose3d_to_json(res, "x", 1, 1)
    assert all(type(v) is float for j in raw["joints"] for v in (j["x"], j["y"]))


def test_json_defaults_without_hypotheses():
    rec = pose3d_to_json(result(with_maps=False), "img.png", 10, 20)
    assert rec["hypothesis"] is None and rec["hypotheses"] == []
    assert len(rec["joints"]) == 17 and set(rec["joints"][0]) == {"name", "x", "y", "z"}
    assert set(rec["joints_2d"][0]) == {"name", "x", "y"}


@pytest.mark.parametrize("key,bad", [("joints3d", np.zeros((16, 3))), ("joints3d", np.zeros((17, 2))),
                                     ("joints2d", np.zeros((17, 3))), ("joints2d", np.zeros(34))])
def test_json_validates_shapes(key, bad):
    res = result()
    res[key] = bad
    with pytest.raises(ValueError, match=rf"{key}.*{re.escape(str(bad.shape))}"):
        pose3d_to_json(res, "x", 10, 10)


def test_json_validates_other_fields():
    res = result()
    del res["joints2d"]
    with pytest.raises(ValueError, match="joints2d"):
        pose3d_to_json(res, "x", 10, 10)
    with pytest.raises(ValueError, match="hypothesis"):
        pose3d_to_json(result(hypothesis=3, hypotheses=[{"width": 1.0}]), "x", 10, 10)
    with pytest.raises(ValueError, match="hypotheses"):
        pose3d_to_json(result(hypotheses=[{"reprojection_px": 1.0}]), "x", 10, 10)
    with pytest.raises(ValueError, match="width"):
        pose3d_to_json(result(), "x", 0, 10)
    with pytest.raises(ValueError, match="maps"):
        draw_panel(np.zeros((8, 8, 3), np.uint8), result(maps=np.zeros((3, 16, 16))))


# ------------------------------------------------------------------------------------------------ 3D view
def test_projection_known_answer():
    size = 201
    c = (size - 1) / 2.0
    pts, depth = project_pose3d(tpose((5.0, 7.0, 3000.0)), size, azimuth=0.0, elevation=0.0)
    assert pts[J["hip"]] == pytest.approx((c, c))                   # root at the centre, whatever its offset
    s = 0.9 * size / 2000.0                                          # the 2 m cube spans 90% of the view
    assert pts[J["right_wrist"]] == pytest.approx((c + 700 * s, c - 500 * s))
    assert pts[J["head"]][1] < c and pts[J["right_foot"]][1] > c
    assert depth == pytest.approx(np.zeros(17))
    # a 2 m cube around the root fits the view at any angle
    cube = np.array([[x, y, z] for x in (-1e3, 1e3) for y in (-1e3, 1e3) for z in (-1e3, 1e3)])
    for az, el in [(0, 0), (45, 15), (90, 0), (-30, 60), (200, -20)]:
        p, _ = project_pose3d(np.vstack([np.zeros((1, 3)), cube, np.zeros((8, 3))]), size, az, el)
        assert (p >= 0).all() and (p <= size - 1).all()
        assert (p.max(0) - p.min(0)).max() == pytest.approx(0.9 * size)


def test_projection_azimuth_and_elevation():
    fwd = np.zeros((17, 3))
    fwd[J["right_wrist"]] = (0.0, 0.0, 500.0)                        # a joint in front of the hip (+z)
    c = (400 - 1) / 2.0
    p0, d0 = project_pose3d(fwd, 400, azimuth=0, elevation=0)
    p90, d90 = project_pose3d(fwd, 400, azimuth=90, elevation=0)
    pm90, _ = project_pose3d(fwd, 400, azimuth=-90, elevation=0)
    i = J["right_wrist"]
    assert p0[i, 0] == pytest.approx(c) and d0[i] == pytest.approx(500.0)   # straight away from the viewer
    assert p90[i, 0] > c + 50 and pm90[i, 0] < c - 50
    assert d90[i] == pytest.approx(0.0, abs=1e-9)
    pe, de = project_pose3d(fwd, 400, azimuth=0, elevation=30)      # looking down: far points move up
    assert pe[i, 1] < c - 20 and de[i] == pytest.approx(500 * math.cos(math.radians(30)))


def test_draw_pose3d_camera_view():
    size = 300
    pose = tpose((0, 0, 3500.0))
    pose[J["left_foot"], 1] += -200.0                                # the left foot lifted: the right is lowest
    img = draw_pose3d(pose, size, azimuth=0.0, elevation=0.0)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert (img != 255).any(axis=2).sum() > 500
    c = (size - 1) / 2.0
    rows, cols = np.nonzero(part_mask(img, "right_forearm"))
    assert len(cols) > 20 and cols.min() > c + 20                    # the +x wrist is right of centre
    rows, cols = np.nonzero(part_mask(img, "left_forearm"))
    assert len(cols) > 20 and cols.max() < c - 20
    rows, cols = np.nonzero(part_mask(img, "upper_spine"))           # spine -> thorax: above the hip
    assert len(rows) > 10 and rows.max() < c and abs(cols.mean() - c) < 3
    rows, cols = np.nonzero(part_mask(img, "right_shin"))             # below it
    assert len(rows) > 10 and rows.min() > c
    # the ground grid lies at foot level: at elevation 0 it is seen edge-on, one line at the feet's row
    # (looked for beyond the wrists, where nothing else is drawn; the grid reaches 1 m out, the wrists 0.7 m)
    grid = np.abs(img.astype(int) - np.array(GRID_COLOUR)).max(axis=2) <= 3
    s = 0.9 * size / 2000.0
    grid[:, int(c - 800 * s):int(c + 800 * s) + 1] = False
    foot_row = project_pose3d(pose, size, 0, 0)[0][J["right_foot"], 1]
    rows, _ = np.nonzero(grid)
    assert len(rows) > 20 and np.abs(rows - foot_row).max() <= 2


def test_draw_pose3d_azimuth_moves_forward_joint():
    pose = tpose()
    pose[J["right_elbow"]] = (180, -500, 300)                       # right forearm pointing forward (+z)
    pose[J["right_wrist"]] = (180, -500, 700)
    size = 300
    c = (size - 1) / 2.0
    cols = {}
    for az in (0, 90, -90):
        m = part_mask(draw_pose3d(pose, size, azimuth=az, elevation=0), "right_forearm")
        cols[az] = np.nonzero(m)[1]
    # azimuth 0: seen end-on (a dot right of centre); 90: to the right; -90: to the left
    assert len(cols[90]) > 20 and cols[90].mean() > c + 30
    assert len(cols[-90]) > 20 and cols[-90].mean() < c - 30
    assert len(cols[90]) > 3 * max(len(cols[0]), 1)


def test_draw_pose3d_skips_non_finite():
    pose = tpose()
    pose[J["right_wrist"]] = np.nan
    img = draw_pose3d(pose, 200, 0, 0)
    assert not part_mask(img, "right_forearm").any()
    assert part_mask(img, "right_upper_arm").any() and part_mask(img, "left_forearm").any()
    blank = draw_pose3d(np.full((17, 3), np.nan), 64)
    assert blank.shape == (64, 64, 3)                                # nothing to draw but the grid
    with pytest.raises(ValueError, match="joints3d"):
        draw_pose3d(np.zeros((17, 2)))


def test_default_view_is_not_the_camera_view():
    a = draw_pose3d(tpose(), 128)
    b = draw_pose3d(tpose(), 128, azimuth=0, elevation=0)
    assert a.shape == b.shape == (128, 128, 3) and (a != b).any()


# ------------------------------------------------------------------------------------------------ panel, files
def test_draw_panel_shape_with_and_without_maps():
    img = np.zeros((64, 96, 3), np.uint8)
    h = 128
    with_maps = draw_panel(img, result(), height=h)
    assert with_maps.shape == (h, 192 + h + h + h + 3 * PANEL_GAP, 3) and with_maps.dtype == np.uint8
    no_maps = draw_panel(img, result(with_maps=False), height=h)
    assert no_maps.shape == (h, 192 + h + PANEL_GAP, 3)
    assert (no_maps[:, 192:192 + PANEL_GAP] == 255).all()           # white separator
    assert (no_maps[:, :192] != 0).any()                            # the 2D skeleton is drawn on the black photo
    # the maps are upscaled nearest-neighbour: each map pixel becomes a (h/16)-pixel block
    maps = result()["maps"]
    front = with_maps[:, 192 + PANEL_GAP:192 + PANEL_GAP + h]
    assert (front[::h // 16, ::h // 16] == np.round(maps[:3].transpose(1, 2, 0) * 255).astype(np.uint8)).all()
    back = with_maps[:, 192 + 2 * PANEL_GAP + h:192 + 2 * PANEL_GAP + 2 * h]
    assert (back[-1, -1] == np.round(maps[3:, -1, -1] * 255)).all()
    assert (with_maps[:, -h:] == draw_pose3d(result()["joints3d"], h)).all()


def test_draw_panel_2d_skeleton_scaled():
    img = np.zeros((100, 100, 3), np.uint8)
    res = result(with_maps=False)
    res["joints2d"] = np.full((17, 2), np.nan)
    res["joints2d"][J["right_elbow"]] = (60.0, 20.0)                 # only the right forearm has both ends
    res["joints2d"][J["right_wrist"]] = (90.0, 20.0)
    out = draw_panel(img, res, height=200)                           # the photo doubles in size
    photo = out[:, :200].astype(int)
    colourful = photo.max(axis=2) - photo.min(axis=2) > 40         # the part colour; outlines and dots are grey
    rows, cols = np.nonzero(colourful)
    assert len(rows) > 20
    assert abs(rows.mean() - (20.5 * 2 - 0.5)) < 1.5 and cols.min() >= 118 and cols.max() <= 182


def test_write_result_files(tmp_path):
    img = np.full((48, 64, 3), 90, np.uint8)
    res = result(hypothesis=0, hypotheses=[{"width": 6.0, "reprojection_px": 1.25}])
    out = tmp_path / "new" / "dir"
    paths = write_result(res, img, out, "frame7", source="/data/frame7.jpg")
    assert [p.name for p in paths] == ["frame7_pose3d.json", "frame7_pose3d.png"]
    assert all(p.is_file() and p.parent == out for p in paths)
    rec = json.loads(paths[0].read_text())
    assert rec == pose3d_to_json(res, "/data/frame7.jpg", 64, 48)
    png = read_image(paths[1])
    assert (png == draw_panel(img, res)).all()
    assert not list(out.glob(".*.tmp"))                              # no temp files left behind
    rec2 = json.loads(write_result(res, img, out, "x")[0].read_text())
    assert rec2["image"] == "x"


def test_write_result_bad_result_writes_nothing(tmp_path):
    res = result()
    res["maps"] = np.zeros((6, 4))
    with pytest.raises(ValueError, match="maps"):
        write_result(res, np.zeros((8, 8, 3), np.uint8), tmp_path, "bad")
    assert not any(tmp_path.iterdir())

