import numpy as np
import pytest

from structnet.keypoints.layouts import get_layout, list_layouts

LSP_NAMES = ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
             "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"]


def test_builtin_layouts_listed():
    assert {"lsp14", "mpii16", "coco17"} <= set(list_layouts())


def test_lsp14_matches_issue_names_and_torso():
    L = get_layout("lsp14")
    assert list(L.joints) == LSP_NAMES and L.num_joints == 14
    assert L.torso == (9, 2)                      # left shoulder -> right hip (published eval_pck.m)


@pytest.mark.parametrize("name,k", [("lsp14", 14), ("mpii16", 16), ("coco17", 17)])
def test_flip_permutation_is_an_involution_swapping_sides(name, k):
    L = get_layout(name)
    perm = L.flip_permutation()
    assert sorted(perm.tolist()) == list(range(k))
    assert np.array_equal(perm[perm], np.arange(k))
    for i, j in enumerate(perm):
        a, b = L.joints[i], L.joints[j]
        if a.startswith("left_"):
            assert b == "right_" + a[5:]
        elif a.startswith("right_"):
            assert b == "left_" + a[6:]
        else:
            assert i == j


@pytest.mark.parametrize("name", ["lsp14", "mpii16"])
def test_structure_groups_follow_the_paper(name):
    L = get_layout(name)
    g = {L.joints[n]: {L.joints[i] for i in grp} for n, grp in enumerate(L.structure_groups)}
    for n, grp in enumerate(L.structure_groups):
        assert grp[0] == n                          # S_n starts with n itself
    # triplets at the elbows and knees, pairs elsewhere (Ke et al. 2018, Sec. 3.3)
    for side in ("left", "right"):
        assert g[f"{side}_elbow"] == {f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"}
        assert g[f"{side}_knee"] == {f"{side}_hip", f"{side}_knee", f"{side}_ankle"}
        assert g[f"{side}_hip"] == {"left_hip", "right_hip"}
        assert g[f"{side}_wrist"] == {f"{side}_wrist", f"{side}_elbow"}
        assert g[f"{side}_ankle"] == {f"{side}_ankle", f"{side}_knee"}
    sizes = sorted(len(x) for x in L.structure_groups)
    assert sizes.count(3) == 4 and set(sizes) == {2, 3}


def test_neighbours_from_edges():
    L = get_layout("mpii16")
    assert [L.joints[i] for i in L.neighbours("thorax")] == ["pelvis", "upper_neck", "right_shoulder", "left_shoulder"]


def test_custom_layout_and_errors(tmp_path):
    p = tmp_path / "tri.yaml"
    p.write_text("name: tri\njoints: [a, left_b, right_b]\nflip_pairs: [[left_b, right_b]]\n"
                 "edges: [[a, left_b], [a, right_b]]\n")
    L = get_layout(p)
    assert L.flip_permutation().tolist() == [0, 2, 1]
    assert L.structure_groups == ((0, 1, 2), (1, 0), (2, 0))     # default S_n = n + graph neighbours
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\njoints: [a, b]\nedges: [[a, c]]\n")
    with pytest.raises(ValueError, match="unknown joint 'c'"):
        get_layout(bad)
    bad.write_text("name: x\njoints: [a, b]\nflips: []\n")
    with pytest.raises(ValueError, match="unknown key.*flips"):
        get_layout(bad)
    with pytest.raises(KeyError, match="lsp14"):
        get_layout("nope")
    with pytest.raises(FileNotFoundError):
        get_layout(tmp_path / "missing.yaml")
    with pytest.raises(KeyError, match="no joint"):
        get_layout("lsp14").index("tail")
