"""MSS / MSR heads on a pretrained encoder (model.arch: encoder): structure, freezing, saving, training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from structnet import hub
from structnet.engine.config import load_config
from structnet.pose2d.config import Pose2DConfig
from structnet.pose2d.encoder import EncoderPoseNet
from structnet.pose2d.evaluate import evaluate_pose2d
from structnet.pose2d.inference import predict_pose
from structnet.pose2d.losses import pose2d_losses
from structnet.pose2d.model import build_pose_model
from structnet.pose2d.task import save_pose_model
from structnet.pose2d.data import build_eval_dataset
from structnet.pose2d.train import build_model, make_codec
from structnet.tasks import get, run


def tiny(**kw):
    args = dict(arch="encoder", backbone="vgg_tiny", features=16, depth=2, msr_depth=2, msr_features=16)
    args.update(kw)
    return build_pose_model(14, **args)


def test_outputs_have_the_hourglass_structure():
    torch.manual_seed(0)
    net = tiny().eval()
    assert isinstance(net, EncoderPoseNet) and net.taps == ["stage3", "stage4"]
    with torch.no_grad():
        out = net(torch.rand(2, 3, 64, 64))
    assert [sorted(s) for s in out["stacks"]] == [[8, 16]]
    assert out["stacks"][0][16].shape == (2, 14, 16, 16) and out["stacks"][0][8].shape == (2, 14, 8, 8)
    assert sorted(out["msr"]) == [8, 16] and out["final"] is out["msr"][16]
    plain = tiny(mss=False, msr=False).eval()
    with torch.no_grad():
        o = plain(torch.rand(1, 3, 64, 64))
    assert list(o["stacks"][0]) == [16] and o["msr"] is None and o["final"] is o["stacks"][0][16]
    # the shared loss reads it as it reads the hourglass
    tgt = {16: torch.zeros(2, 14, 16, 16), 8: torch.zeros(2, 14, 8, 8)}
    names = sorted(pose2d_losses(out, tgt, "lsp14"))
    assert "ms_stack0_s16" in names and "ms_msr_s8" in names and "struct_msr_s16" in names


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match=r"no taps at stride\(s\) \[16\]"):
        tiny(depth=3)
    with pytest.raises(ValueError, match="multiples of 16"):
        tiny()(torch.rand(1, 3, 40, 40))
    with pytest.raises(ValueError, match="unknown pose model arch"):
        build_pose_model(14, arch="transformer")


def test_freeze_parts():
    net = tiny()
    net.freeze("mss")
    assert net.frozen == ("backbone", "decoder", "heads")
    assert not any(p.requires_grad for p in net.backbone.parameters())
    assert not any(p.requires_grad for p in net.decoder.parameters())
    assert all(p.requires_grad for p in net.msr.parameters())
    net.train()
    bns = [m for m in net.decoder.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    net.unfreeze("all")
    net.train()
    assert all(m.training for m in bns) and all(p.requires_grad for p in net.parameters())


def test_save_load_round_trip_through_the_hub(tmp_path):
    torch.manual_seed(1)
    net = tiny()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
    net.eval()
    from structnet.pose2d.codec import HeatmapCodec

    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0, scales=(1, 2))
    path = save_pose_model(net, tmp_path / "enc.safetensors", "lsp14", codec=codec)
    m = hub.load(path)
    assert m.task == "pose2d" and isinstance(m.network, EncoderPoseNet)
    assert m.metadata["model_config"]["arch"] == "encoder" and m.codec == codec
    img = np.random.default_rng(0).integers(0, 256, (70, 50, 3), dtype=np.uint8)
    a = predict_pose(net, img, layout="lsp14", codec=codec, precision="float32")
    b = predict_pose(m, img, precision="float32")
    # the hub's copy runs in channels_last: equal up to the summation order (DARK on this untrained model's flat
    # maps turns 1e-6 differences into up to 0.01 px)
    np.testing.assert_allclose(a["keypoints"], b["keypoints"], rtol=0, atol=0.05)
    np.testing.assert_allclose(a["heatmaps"], b["heatmaps"], rtol=0, atol=1e-5)


@pytest.mark.slow
def test_tiny_encoder_training_beats_the_untrained_model(tmp_path):
    """~15 s of one CPU thread: the encoder arch through the generic training on 64x64 stick figures."""
    torch.set_num_threads(1)
    cfg = load_config(Pose2DConfig, None, [
        "model.arch=encoder", "model.backbone=vgg_tiny", "model.pretrained=false", "model.features=32",
        "model.depth=2", "model.msr=false", "model.msr_depth=2", "loss.supervise=[stacks]", "data.dataset=synthetic",
        "data.synthetic_size=64", "data.input_size=64", "data.sigma=2", "data.synthetic_n=256",
        "eval.dataset=synthetic", "optim.name=adam", "optim.lr=2e-3", "schedule.name=constant",
        "train.max_iters=150", "train.batch_size=8", "train.checkpoint_every=150", "train.progress_bar=false",
        "train.tensorboard=false", "train.num_workers=0", f"train.out_dir={tmp_path / 'run'}"])
    val = build_eval_dataset(cfg, max_images=48)
    torch.manual_seed(0)
    before = evaluate_pose2d(build_model(cfg), val, layout="lsp14", codec=make_codec(cfg))
    m = hub.load(run.train(get("pose2d"), cfg, resume=False))
    assert isinstance(m.network, EncoderPoseNet)
    after = evaluate_pose2d(m, val)
    assert after["mean"] > before["mean"] + 0.1, (before["mean"], after["mean"])


def test_heatmap_outputs_start_near_zero():
    torch.manual_seed(0)
    net = tiny().eval()
    convs = net._output_convs()
    assert len(convs) == 2 + 2  # head + 1 MSS head, MSR head + 1 MSR MSS head
    assert all(float(c.weight.detach().std()) < 0.002 and float(c.bias.detach().abs().max()) == 0.0 for c in convs)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert float(out["final"].abs().max()) < 0.05
    torch.manual_seed(0)
    default = tiny(head_std=0.0)
    assert float(default.heads.head[-1].weight.detach().std()) > 0.01 and default.config()["head_std"] == 0.0


#: The bundled mss_msr_efficientnet_lite0_lsp (hub.load: float16 kernels cast to float32, channels_last) on
#: torch.rand(1, 3, 192, 192, generator seeded 1234): per-joint mean of the final 48x48 heatmaps, the argmax (flat
#: index) per joint and the sum, recorded on this project's machine when the model was bundled.
BUNDLED_ENC_MEAN = [0.000183, -0.000501, 0.000547, 0.002095, 0.000635, 0.000372, 0.000717, -0.000374, 0.000131,
                    -9.5e-05, -0.000152, -0.000208, -2.4e-05, 6.2e-05]
BUNDLED_ENC_ARGMAX = [2017, 1819, 937, 1076, 1926, 1076, 774, 348, 236, 1096, 1959, 936, 1505, 1123]
BUNDLED_ENC_SUM = 7.806643758741302


def test_bundled_encoder_model_gives_the_recorded_heatmaps():
    m = hub.load("mss_msr_efficientnet_lite0_lsp")
    assert isinstance(m.network, EncoderPoseNet) and m.source.stat().st_size <= 20 * 1024 * 1024
    assert all(p.dtype == torch.float32 for p in m.network.parameters())
    x = torch.rand(1, 3, 192, 192, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        final = m.network(x.contiguous(memory_format=torch.channels_last))["final"].double()
    assert final.shape == (1, 14, 48, 48)
    assert final[0].mean((1, 2)).tolist() == pytest.approx(BUNDLED_ENC_MEAN, abs=2e-6)
    assert final.flatten(2).argmax(2)[0].tolist() == BUNDLED_ENC_ARGMAX
    assert float(final.sum()) == pytest.approx(BUNDLED_ENC_SUM, rel=1e-5)
