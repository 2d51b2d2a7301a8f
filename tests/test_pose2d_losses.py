"""pose2d losses: Eq. 1 and Eq. 2 on hand-made 3x3 heatmaps, alpha = 0 is Eq. 1, masking of unlabelled joints,
the group term against the explicit formula for the lsp14 and mpii16 groups, gradients, the named-terms dict for the
trainer, and bad input."""
import pytest
import torch

from structnet.pose2d import losses as L
from structnet.keypoints.layouts import get_layout


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: one intra-op thread avoids thread start-up and spinning on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------- a hand-made example
#
# 2 joints, 3x3 maps, groups S_0 = {0, 1}, S_1 = {1}.
#   P_0: 0.5 at the centre           G_0: 1 at the centre         -> d_0 = -0.5 at the centre
#   P_1: 1 at (0, 0), 0.5 at centre  G_1: 1 at (2, 2)             -> d_1 = +1 at (0,0), +0.5 centre, -1 at (2,2)
# sum_xy d_0^2 = 0.25, sum_xy d_1^2 = 1 + 0.25 + 1 = 2.25
# Eq. 1 (sum over pixels, mean over the 2 joints): (0.25 + 2.25) / 2 = 1.25
# group sums: S_0: d_0 + d_1 = +1 at (0,0), 0 at centre, -1 at (2,2) -> 2 ; S_1: d_1 -> 2.25
#   structural term ("sum"):    (2 + 2.25) / 2 = 2.125   (cross term 2 <d_0, d_1> = -0.5 couples the joints)
#   structural term ("concat"): ((0.25 + 2.25) + 2.25) / 2 = 2.375
GROUPS = [(0, 1), (1,)]


def _toy(dtype=torch.float64):
    p = torch.zeros(1, 2, 3, 3, dtype=dtype)
    g = torch.zeros(1, 2, 3, 3, dtype=dtype)
    p[0, 0, 1, 1] = 0.5
    g[0, 0, 1, 1] = 1.0
    p[0, 1, 0, 0] = 1.0
    p[0, 1, 1, 1] = 0.5
    g[0, 1, 2, 2] = 1.0
    return p, g


def test_hand_computed_values():
    p, g = _toy()
    assert L.keypoint_loss(p, g).item() == pytest.approx(1.25)
    assert L.keypoint_loss(p, g, reduction="mean").item() == pytest.approx(1.25 / 9)
    assert L.structure_loss(p, g, GROUPS).item() == pytest.approx(2.125)
    assert L.structure_loss(p, g, GROUPS, combine="concat").item() == pytest.approx(2.375)
    assert L.structure_loss(p, g, GROUPS, reduction="mean").item() == pytest.approx(2.125 / 9)
    assert L.structure_aware_loss(p, g, GROUPS).item() == pytest.approx(1.25 + 0.5 * 2.125)   # default alpha 0.5
    assert L.structure_aware_loss(p, g, GROUPS, alpha=2.0, combine="concat").item() == pytest.approx(
        1.25 + 2 * 2.375)
    # a second, perfectly predicted image halves the batch mean
    p2, g2 = torch.cat([p, g]), torch.cat([g, g])
    assert L.structure_aware_loss(p2, g2, GROUPS).item() == pytest.approx((1.25 + 0.5 * 2.125) / 2)
    assert L.structure_aware_loss(g, g, GROUPS).item() == 0.0


def test_masking_unlabelled_joints():
    p, g = _toy()
    # joint 1 unlabelled: Eq. 1 keeps 1/N = 1/2 -> 0.25 / 2; both groups contain joint 1 -> no structural term
    w = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert L.keypoint_loss(p, g, w).item() == pytest.approx(0.125)
    assert L.structure_loss(p, g, GROUPS, w).item() == 0.0
    # joint 0 unlabelled: group S_0 masked, S_1 = {1} kept: 2.25 / 2
    w = torch.tensor([0.0, 1.0], dtype=torch.float64)                        # (K,) is broadcast over the batch
    assert L.keypoint_loss(p, g, w).item() == pytest.approx(1.125)
    assert L.structure_loss(p, g, GROUPS, w).item() == pytest.approx(1.125)
    assert L.structure_loss(p, g, GROUPS, w, combine="concat").item() == pytest.approx(1.125)
    # soft weights scale the terms; a group takes its weakest member's weight
    w = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    assert L.keypoint_loss(p, g, w).item() == pytest.approx((0.5 * 0.25 + 2.25) / 2)
    assert L.structure_loss(p, g, GROUPS, w).item() == pytest.approx((0.5 * 2 + 2.25) / 2)
    # whatever an unlabelled joint's maps hold, the loss does not change
    w = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    p_noise = p.clone()
    p_noise[0, 1] = torch.rand(3, 3, dtype=torch.float64)
    for fn in (L.keypoint_loss, lambda a, b, w: L.structure_aware_loss(a, b, GROUPS, w)):
        assert fn(p_noise, g, w).item() == pytest.approx(fn(p, g, w).item())


def test_alpha_zero_is_eq1():
    torch.manual_seed(0)
    p, g = torch.rand(2, 14, 8, 8), torch.rand(2, 14, 8, 8)
    w = (torch.rand(2, 14) > 0.2).float()
    assert torch.equal(L.structure_aware_loss(p, g, "lsp14", w, alpha=0.0), L.keypoint_loss(p, g, w))
    outs = {"stacks": [{8: p, 4: p[..., ::2, ::2]}], "msr": None}
    tg = {8: g, 4: g[..., ::2, ::2], "weights": w}
    terms = L.pose2d_losses(outs, tg, "lsp14", alpha=0.0)
    assert sorted(terms) == ["ms_stack0_s4", "ms_stack0_s8"]
    manual = L.keypoint_loss(p, g, w) + L.keypoint_loss(p[..., ::2, ::2], g[..., ::2, ::2], w)
    assert sum(terms.values()).item() == pytest.approx(manual.item(), rel=1e-6)


# ---------------------------------------------------------------- the layouts' groups

def _explicit_group_term(p, g, w, groups, combine):
    """Eq. 2's second term written out with loops: 1/G sum_n w_{S_n} ||P_{S_n} - G_{S_n}||^2, batch mean."""
    total = 0.0
    for b in range(p.shape[0]):
        acc = 0.0
        for s in groups:
            ws = min(float(w[b, m]) for m in s)
            if combine == "sum":
                e = float(((p[b, list(s)].sum(0) - g[b, list(s)].sum(0)) ** 2).sum())
            else:
                e = sum(float(((p[b, m] - g[b, m]) ** 2).sum()) for m in s)
            acc += ws * e
        total += acc / len(groups)
    return total / p.shape[0]


@pytest.mark.parametrize("name", ["lsp14", "mpii16"])
@pytest.mark.parametrize("combine", ["sum", "concat"])
def test_group_term_equals_explicit_formula(name, combine):
    lay = get_layout(name)
    k = lay.num_joints
    gen = torch.Generator().manual_seed(1)
    p = torch.rand(3, k, 6, 5, generator=gen, dtype=torch.float64)
    g = torch.rand(3, k, 6, 5, generator=gen, dtype=torch.float64)
    w = (torch.rand(3, k, generator=gen) > 0.25).double()
    got = L.structure_loss(p, g, name, w, combine=combine).item()
    assert got == pytest.approx(_explicit_group_term(p, g, w, lay.structure_groups, combine), rel=1e-12)
    # the membership matrix is the layout's S_n, row n for joint n (which it contains)
    a = L.group_matrix(name)
    assert a.shape == (k, k)
    for n, s in enumerate(lay.structure_groups):
        assert a[n, n] == 1 and set(torch.nonzero(a[n]).flatten().tolist()) == set(s)


def test_mean_group_size_quoted_in_docstring():
    """The alpha default is justified by mean |S_n| (2.29 for lsp14, 2.25 for mpii16)."""
    assert L.group_matrix("lsp14").sum(1).mean().item() == pytest.approx(32 / 14)
    assert L.group_matrix("mpii16").sum(1).mean().item() == pytest.approx(36 / 16)
    assert "2.29 for ``lsp14``, 2.25" in L.__doc__


# ---------------------------------------------------------------- gradients

def test_gradients_flow_and_masked_joints_get_none():
    torch.manual_seed(2)
    k = 14
    maps = {h: torch.rand(2, k, h, h, requires_grad=True) for h in (8, 4)}
    msr = {8: torch.rand(2, k, 8, 8, requires_grad=True)}
    tg = {h: torch.rand(2, k, h, h) for h in (8, 4)}
    w = torch.ones(2, k)
    w[0, 3] = 0.0                                  # left hip of image 0 unlabelled
    terms = L.pose2d_losses({"stacks": [maps], "msr": msr}, tg, "lsp14", w)
    sum(terms.values()).backward()
    for t in list(maps.values()) + list(msr.values()):
        assert torch.isfinite(t.grad).all()
        assert t.grad[0, 3].abs().max() == 0     # no term reaches an unlabelled joint
        assert t.grad[1, 3].abs().max() > 0
        assert (t.grad[0].flatten(1).abs().amax(1) > 0).sum() == k - 1


def test_gradcheck_structure_aware_loss():
    gen = torch.Generator().manual_seed(3)
    p = torch.rand(2, 3, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.rand(2, 3, 3, 2, generator=gen, dtype=torch.float64)
    w = torch.tensor([[1.0, 0.5, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    groups = [(0, 1), (1, 0, 2), (2, 1)]
    for combine in L.COMBINES:
        assert torch.autograd.gradcheck(
            lambda x: L.structure_aware_loss(x, g, groups, w, alpha=0.7, combine=combine), (p,))


def test_low_precision_maps_are_upcast():
    p, g = _toy(torch.float32)
    got = L.structure_aware_loss(p.bfloat16(), g.bfloat16(), GROUPS)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(1.25 + 0.5 * 2.125)


# ---------------------------------------------------------------- the trainer's dict

def _fake_outputs(k=14, b=2, seed=4):
    gen = torch.Generator().manual_seed(seed)
    st = [{8: torch.rand(b, k, 8, 8, generator=gen), 4: torch.rand(b, k, 4, 4, generator=gen)} for _ in range(2)]
    msr = {8: torch.rand(b, k, 8, 8, generator=gen), 4: torch.rand(b, k, 4, 4, generator=gen)}
    tg = {8: torch.rand(b, k, 8, 8, generator=gen), 4: torch.rand(b, k, 4, 4, generator=gen),
          "weights": torch.ones(b, k)}
    return {"stacks": st, "msr": msr, "final": msr[8]}, tg


def test_pose2d_losses_names_and_values():
    out, tg = _fake_outputs()
    terms = L.pose2d_losses(out, tg, "lsp14", alpha=0.3)
    assert list(terms) == [f"{kind}_{part}_s{h}" for part in ("stack0", "stack1", "msr") for h in (8, 4)
                           for kind in ("ms", "struct")]
    for part, maps in (("stack0", out["stacks"][0]), ("stack1", out["stacks"][1]), ("msr", out["msr"])):
        for h, m in maps.items():
            assert torch.equal(terms[f"ms_{part}_s{h}"], L.keypoint_loss(m, tg[h], tg["weights"]))
            assert terms[f"struct_{part}_s{h}"].item() == pytest.approx(
                0.3 * L.structure_loss(m, tg[h], "lsp14", tg["weights"]).item())
    # stage 2 of the paper: MSR-net only
    assert sorted(L.pose2d_losses(out, tg, "lsp14", supervise=("msr",))) == [
        "ms_msr_s4", "ms_msr_s8", "struct_msr_s4", "struct_msr_s8"]
    # a list of stacks (dicts or lists of maps) and a {name: maps} mapping give the same terms
    as_list = L.pose2d_losses([list(s.values()) for s in out["stacks"]], tg, "lsp14")
    assert set(as_list) == {n for n in terms if "msr" not in n}
    named = L.pose2d_losses({"stack0": out["stacks"][0], "msr": out["msr"]}, tg, "lsp14", supervise=("msr",))
    assert set(named) == {"ms_msr_s8", "ms_msr_s4", "struct_msr_s8", "struct_msr_s4"}
    # weights come from targets["weights"] unless given; all-zero weights -> zero loss
    tg0 = dict(tg, weights=torch.zeros(2, 14))
    assert all(v.item() == 0 for v in L.pose2d_losses(out, tg0, "lsp14").values())
    assert all(v.item() > 0 for v in L.pose2d_losses(out, tg0, "lsp14", torch.ones(14)).values())


def test_with_the_project_model_and_codec():
    """The real PoseNet output dict and codec targets plug straight in; every trainable parameter gets a gradient."""
    from structnet.pose2d.codec import HeatmapCodec
    from structnet.pose2d.model import build_pose_model

    torch.manual_seed(5)
    net = build_pose_model(14, stacks=2, features=8)
    out = net(torch.rand(2, 3, 64, 64))
    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16))
    vis = torch.ones(2, 14)
    vis[1, 13] = 0
    tg = codec.encode_batch(torch.rand(2, 14, 2) * 60, vis)
    terms = L.pose2d_losses(out, tg, "lsp14")
    heights = sorted({int(k.rsplit("_s", 1)[1]) for k in terms}, reverse=True)
    assert heights == [h for h in tg if isinstance(h, int)]
    sum(terms.values()).backward()
    missing = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing


# ---------------------------------------------------------------- bad input

def test_bad_input_messages():
    p, g = _toy()
    with pytest.raises(ValueError, match="must have the same shape"):
        L.keypoint_loss(p, g[..., :2])
    with pytest.raises(ValueError, match=r"pred heatmaps must be \(B, K, H, W\)"):
        L.keypoint_loss(p[0], g[0])
    with pytest.raises(ValueError, match=r"weight must have shape \(B, K\) = \(1, 2\)"):
        L.keypoint_loss(p, g, torch.ones(1, 3))
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        L.keypoint_loss(p, g, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="reduction must be one of sum, mean"):
        L.keypoint_loss(p, g, reduction="none")
    with pytest.raises(ValueError, match="combine must be one of sum, concat"):
        L.structure_loss(p, g, GROUPS, combine="max")
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        L.structure_aware_loss(p, g, GROUPS, alpha=-1)
    with pytest.raises(ValueError, match=r"group 1 \[2\] has a joint index outside 0..1"):
        L.structure_loss(p, g, [(0, 1), (2,)])
    with pytest.raises(ValueError, match="layout 'lsp14' has 14 joints, not 2"):
        L.structure_loss(p, g, "lsp14")
    with pytest.raises(ValueError, match="non-empty joint index groups"):
        L.group_matrix([(0,), ()])
    out, tg = _fake_outputs()
    with pytest.raises(ValueError, match=r"no target for the 4-pixel maps of stack0; target heights: \[8\]"):
        L.pose2d_losses(out, {8: tg[8]}, "lsp14")
    with pytest.raises(ValueError, match="supervise: unknown part"):
        L.pose2d_losses(out, tg, "lsp14", supervise=("stack",))
    with pytest.raises(ValueError, match="no outputs to supervise"):
        L.pose2d_losses(dict(out, msr=None), tg, "lsp14", supervise=("msr",))
    with pytest.raises(ValueError, match="two heatmaps of height 8"):
        L.pose2d_losses([[tg[8], tg[8]]], tg, "lsp14")
    with pytest.raises(ValueError, match="targets must be a dict"):
        L.pose2d_losses(out, [tg[8]], "lsp14")
