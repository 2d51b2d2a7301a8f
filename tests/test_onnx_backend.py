"""The ONNX Runtime backend (structnet.nn.onnx_backend): same numbers as PyTorch, export cached once per weights
file, clear errors where it cannot run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from structnet import hub
from structnet.cli import main
from structnet.errors import UserError
from structnet.nn import onnx_backend
from structnet.nn.onnx_backend import OnnxNetwork, resolve_backend
from structnet.pose2d.codec import HeatmapCodec
from structnet.pose2d.inference import predict_pose
from structnet.pose2d.model import build_pose_model
from structnet.pose2d.task import save_pose_model

needs_ort = pytest.mark.skipif(not onnx_backend.onnxruntime_available(),
                               reason="onnxruntime / onnx not installed (pip install structnet[onnx])")


@pytest.fixture(autouse=True)
def cpu_without_native_bf16(monkeypatch):
    """These tests compare the backends in float32: make ``precision: auto`` resolve to float32 as on a CPU without
    AMX / AVX512-BF16 (on one with them, auto is bfloat16, where onnxruntime is not used; ``test_backend_resolution``
    covers that case)."""
    from structnet.nn import precision

    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("STRUCTNET_CACHE", str(d))
    return d


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    net = build_pose_model(14, arch="encoder", backbone="vgg_tiny", features=16, depth=2, msr_depth=2,
                           msr_features=16, head_std=0.1)
    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0, scales=(1, 2))
    return save_pose_model(net, tmp_path / "tiny.safetensors", "lsp14", codec=codec)


@needs_ort
def test_onnxruntime_gives_the_torch_numbers(tiny_model, cache):
    ref = hub.load(tiny_model)
    ort = hub.load(tiny_model, backend="onnxruntime")
    assert ref.backend == "torch" and ort.backend == "onnxruntime" and isinstance(ort.network, OnnxNetwork)
    assert len(list((cache / "onnx").glob("tiny-*.onnx"))) == 1
    x = torch.rand(3, 3, 64, 64)  # the batch axis is free
    with torch.no_grad():
        want = ref.network(x)["final"]
    got = ort.network(x)
    assert got.shape == want.shape == (3, 14, 16, 16)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)
    img = (np.random.default_rng(0).random((90, 70, 3)) * 255).astype(np.uint8)
    a, b = predict_pose(ref, img), predict_pose(ort, img)
    np.testing.assert_allclose(b["heatmaps"], a["heatmaps"], atol=1e-5)
    np.testing.assert_allclose(b["keypoints"], a["keypoints"], atol=0.01)  # px; DARK on flat random maps
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ort.network(torch.rand(3, 64, 64))
    with pytest.raises(UserError, match="runs on the CPU"):
        ort.to("cuda")


@needs_ort
def test_export_is_cached_and_a_damaged_cache_file_is_replaced(tiny_model, cache, monkeypatch):
    hub.load(tiny_model, backend="onnxruntime")
    (path,) = (cache / "onnx").glob("*.onnx")
    good = path.read_bytes()
    real_export = onnx_backend.export_onnx

    def no_export(*a, **k):
        raise AssertionError("exported again although the cache holds the graph")

    monkeypatch.setattr(onnx_backend, "export_onnx", no_export)
    assert hub.load(tiny_model, backend="onnxruntime").backend == "onnxruntime"
    path.write_bytes(b"not an onnx graph")
    calls = []
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a, **k: calls.append(1) or real_export(*a, **k))
    assert hub.load(tiny_model, backend="onnxruntime").backend == "onnxruntime"
    assert calls == [1] and path.read_bytes() == good
    assert [p.name for p in (cache / "onnx").iterdir()] == [path.name]  # no temporary file left
    # other weights -> another cache entry
    other = tiny_model.with_name("other.safetensors")
    torch.manual_seed(1)
    save_pose_model(build_pose_model(14, arch="encoder", backbone="vgg_tiny", features=16, depth=2, msr_depth=2,
                                     msr_features=16), other, "lsp14",
                    codec=HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0, scales=(1, 2)))
    hub.load(other, backend="onnxruntime")
    assert len(list((cache / "onnx").glob("*.onnx"))) == 2


@needs_ort
def test_unwritable_cache_runs_from_memory(tiny_model, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("STRUCTNET_CACHE", str(blocker))  # a file: the cache folder cannot be made
    m = hub.load(tiny_model, backend="onnxruntime")
    assert m.backend == "onnxruntime" and "in memory" in m.network.source
    assert m.network(torch.rand(1, 3, 64, 64)).shape == (1, 14, 16, 16)


def test_backend_resolution(monkeypatch):
    monkeypatch.setattr(onnx_backend, "onnxruntime_available", lambda: True)
    kw = dict(spec_available=True, task="pose2d")
    assert resolve_backend("torch", **kw) == "torch"
    assert resolve_backend("auto", **kw) == "onnxruntime"
    assert resolve_backend("auto", **kw, precision="float32") == "onnxruntime"
    assert resolve_backend("onnxruntime", **kw) == "onnxruntime"
    # where it cannot run: auto falls back to torch, an explicit choice says why
    for extra, why in ((dict(spec_available=False, task="skeleton"), "skeleton task has no ONNX export"),
                       (dict(precision="bfloat16"), "bfloat16"),
                       (dict(device="cuda", precision="float32"), "not on cuda")):
        args = {**kw, **extra}
        assert resolve_backend("auto", **args) == "torch"
        with pytest.raises(UserError, match=why):
            resolve_backend("onnxruntime", **args)
    monkeypatch.setattr(onnx_backend, "onnxruntime_available", lambda: False)
    assert resolve_backend("auto", **kw) == "torch"
    with pytest.raises(UserError, match=r"not installed: pip install \"structnet\[onnx\]\""):
        resolve_backend("onnxruntime", **kw)
    with pytest.raises(UserError, match="expected one of auto, torch, onnxruntime"):
        resolve_backend("tensorrt", **kw)


def test_skeleton_models_stay_on_torch_with_auto():
    m = hub.load(task="skeleton", backend="auto")
    assert m.backend == "torch" and not isinstance(m.network, OnnxNetwork)
    with pytest.raises(UserError, match="skeleton task has no ONNX export"):
        hub.load(task="skeleton", backend="onnxruntime")


@needs_ort
def test_cli_predict_same_joints_with_both_backends(tmp_path, cache):
    from skimage import data

    import cv2

    img = tmp_path / "astronaut.png"
    cv2.imwrite(str(img), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    joints = {}
    for b in ("torch", "onnxruntime"):
        out = tmp_path / b
        assert main(["predict", "pose2d", str(img), "--out", str(out), "--backend", b, "--threads", "1",
                     "--quiet"]) == 0
        doc = json.loads((out / "astronaut_pose2d.json").read_text())
        joints[b] = np.array([[j["x"], j["y"], j["score"]] for j in doc["joints"]])
    np.testing.assert_allclose(joints["onnxruntime"], joints["torch"], atol=0.01)
    assert list((cache / "onnx").glob("mss_msr_efficientnet_lite0_lsp-*.onnx"))


@needs_ort
def test_cli_export(tmp_path, tiny_model, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export", "pose2d", "--weights", str(tiny_model), "--out", str(out)]) == 0
    assert "input 'input' (N, 3x64x64), outputs heatmaps" in capsys.readouterr().out
    net = OnnxNetwork(out, ["heatmaps"])
    ref = hub.load(tiny_model)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), ref.network(x)["final"], atol=1e-5, rtol=1e-4)
    assert main(["export", "skeleton", "--out", str(tmp_path / "s.onnx")]) == 2
    assert "skeleton task has no ONNX export yet" in capsys.readouterr().err
    assert main(["export", "pose2d", "--weights", str(tiny_model), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["export", "pose2d", "--weights", str(tiny_model), "--out", str(tmp_path / "no" / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "s.onnx").exists()
