"""structnet.nn.weights (the one safetensors reader/writer) and structnet.nn.modules (unwrap, freeze)."""
import copy
import json
import os
import pickle
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from _engine_toy import make_net
from structnet.errors import UserError
from structnet.nn.modules import freeze, is_frozen_batchnorm, unfreeze, unwrap
from structnet.nn.weights import load_state_dict, load_weights, read_metadata, save_weights, state_dict_mismatch


@pytest.fixture
def no_torch_load(monkeypatch):
    """Weights files are never unpickled: any torch.load call fails the test."""
    def refuse(*a, **k):
        raise AssertionError("torch.load called on a weights file")

    monkeypatch.setattr(torch, "load", refuse)


# ----------------------------------------------------------------------------------------------- round trip
def test_save_and_load_weights_round_trip(tmp_path, no_torch_load):
    net = make_net(3)
    path = save_weights(net, tmp_path / "w" / "model.safetensors",
                        {"task": "toy", "config": {"hidden": 16}, "metrics": {"f": 0.5}})
    meta = read_metadata(path)
    assert meta["task"] == "toy" and json.loads(meta["config"]) == {"hidden": 16}
    assert read_metadata(path, decode=True)["metrics"] == {"f": 0.5}
    sd = load_state_dict(path)
    assert set(sd) == set(net.state_dict()) and all(torch.equal(sd[k], v) for k, v in net.state_dict().items())
    other = make_net(4)
    assert load_weights(other, path)["task"] == "toy"
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), other.parameters()))
    assert not [p for p in (tmp_path / "w").iterdir() if p.name != "model.safetensors"]  # no temp files left


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_save_weights_file_mode_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = save_weights(make_net(0), tmp_path / f"m{umask}.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_tied_weights_are_stored_once_and_load(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.b.weight = self.a.weight

    torch.manual_seed(0)
    src, dst = Tied(), Tied()
    path = save_weights(src, tmp_path / "t.safetensors")
    assert len(load_state_dict(path)) == 3
    load_weights(dst, path)
    assert torch.equal(dst.b.weight, src.a.weight) and dst.a.weight is dst.b.weight


def test_half_storage_keeps_norm_statistics_and_loads_back_as_float32(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.Conv2d(64, 64, 3), nn.Linear(5, 7))
    net[1].running_var.fill_(1e-6)  # a variance float16 would round to 0 / a subnormal
    full = save_weights(net, tmp_path / "full.safetensors")
    half = save_weights(net, tmp_path / "half.safetensors", half=True)
    assert all(p.dtype == torch.float32 for p in net.parameters())  # the model itself is untouched
    sd = load_state_dict(half)
    kernels = {"0.weight", "2.weight", "3.weight"}
    assert {k for k, v in sd.items() if v.dtype == torch.float16} == kernels
    assert torch.equal(sd["1.running_var"], net[1].running_var) and sd["0.bias"].dtype == torch.float32
    assert half.stat().st_size < 0.55 * full.stat().st_size
    other = copy.deepcopy(net)
    for p in other.parameters():
        p.data.zero_()
    load_weights(other, half)
    w, w0 = other[2].weight, net[2].weight
    assert w.dtype == torch.float32 and torch.equal(w, w0.half().float()) and not torch.equal(w, w0)
    assert (w - w0).abs().max() <= 1e-3 * w0.abs().max()


# ----------------------------------------------------------------------------------------------- mismatches
def test_mismatch_messages_name_counts_and_keys(tmp_path):
    path = save_weights(make_net(3), tmp_path / "model.safetensors", {"structnet_task": "toy"})
    extra = make_net(0)
    extra.extra = nn.Linear(2, 2)
    with pytest.raises(UserError, match=r"model\.safetensors: weights do not fit ToyNet \(the file holds a toy model\): "
                                        r"missing \(2\): extra\.weight, extra\.bias; pass weights saved from this"):
        load_weights(extra, path)
    with pytest.raises(UserError, match=r"unexpected \(4\): body\.0\.bias, body\.0\.weight, head"):
        load_weights(nn.Sequential(), path)
    with pytest.raises(UserError, match=r"shape mismatch \(3\): body\.0\.bias \(16,\) vs \(8,\) in the model"):
        load_weights(make_net(0, hidden=8), path)
    big = {f"k{i}": torch.zeros(1) for i in range(9)}
    assert state_dict_mismatch({}, big) == "unexpected (9): k0, k1, k2, k3, k4 ..."
    # strict=False: what fits is loaded, the rest keeps its values
    before = extra.extra.weight.detach().clone()
    load_weights(extra, path, strict=False)
    assert torch.equal(extra.head.weight, make_net(3).head.weight) and torch.equal(extra.extra.weight, before)


# ----------------------------------------------------------------------------------------------- bad files
def _safetensors_bytes(tmp_path):
    return save_weights(make_net(0), tmp_path / "good.safetensors", {"task": "toy"}).read_bytes()


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _bad_files(tmp_path):
    good = _safetensors_bytes(tmp_path)
    n = int.from_bytes(good[:8], "little")
    marker = tmp_path / "pwned"
    torch.save({"w": torch.zeros(3), "x": _Evil(marker)}, tmp_path / "zip.pt")
    torch.save({"w": torch.zeros(3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with (tmp_path / "raw.pkl").open("wb") as f:
        pickle.dump({"x": _Evil(marker)}, f, protocol=4)
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    np.save(tmp_path / "array.npy", np.zeros(3))
    files = {
        "empty": (b"", r"is empty \(0 bytes\): an interrupted copy or download\? copy or export it again"),
        "tiny": (b"\x10\x00", r"is truncated \(2 bytes\): copy or export it again"),
        "cut_data": (good[: len(good) - 10], rf"is truncated \({len(good) - 10} bytes, its header promises "
                                              rf"{len(good)}\): copy or export it again"),
        "cut_header": (good[: 8 + n // 2], rf"is truncated \({8 + n // 2} bytes, its header alone needs {8 + n}\)"),
        "bad_json": (good[:8] + b"{" + b"x" * (n - 1) + good[8 + n:], r"corrupt safetensors header \(not JSON\)"),
        "hdf5": (b"\x89HDF\r\n\x1a\n" + b"\x00" * 100, r"is an HDF5 file \(Keras/MATLAB weights\?\), not safetensors"),
        "text": (b"hello, these are not weights\n", r"is a text file \(starts 'hello, these are not weights'\), not a "
                                                    r"safetensors weights file"),
        "lfs": (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
                r"is a Git LFS pointer, not the weights themselves: fetch them with 'git lfs pull'"),
        "garbage": (bytes(range(256)) * 4, r"is not a safetensors weights file \(unrecognised content\); use the run's"),
    }
    out = {k: (tmp_path / f"{k}.safetensors", msg) for k, (data, msg) in files.items()}
    for k, (data, _) in files.items():
        out[k][0].write_bytes(data)
    pk = (r"not safetensors; structnet never unpickles weights files: use the run's model\.safetensors, or export with "
          r"structnet\.nn\.weights\.save_weights\(model, 'model\.safetensors'\)")
    out["zip"] = (tmp_path / "zip.pt", r"is a PyTorch zip/pickle checkpoint \(torch\.save\), " + pk)
    out["legacy"] = (tmp_path / "legacy.pt", r"is a Python pickle \(legacy torch\.save / pickle\.dump\), " + pk)
    out["raw"] = (tmp_path / "raw.pkl", r"is a Python pickle \(legacy torch\.save / pickle\.dump\), " + pk)
    out["npz"] = (tmp_path / "arrays.npz", r"is a NumPy \.npz archive, not safetensors")
    out["npy"] = (tmp_path / "array.npy", r"is a NumPy \.npy array, not safetensors")
    return out, marker


@pytest.mark.parametrize("reader", ["read_metadata", "load_state_dict", "load_weights"])
def test_bad_weights_files_are_one_line_user_errors(tmp_path, reader, no_torch_load):
    files, marker = _bad_files(tmp_path)
    call = {"read_metadata": read_metadata, "load_state_dict": load_state_dict,
            "load_weights": lambda p: load_weights(make_net(0), p)}[reader]
    for name, (path, msg) in files.items():
        with pytest.raises(UserError) as e:
            call(path)
        text = str(e.value)
        assert text.startswith(f"{path}: ") and "\n" not in text, (name, text)
        assert __import__("re").search(msg, text), (name, text)
    assert not marker.exists()  # nothing was unpickled
    with pytest.raises(UserError, match=r"^weights file not found: .*nope\.safetensors$"):
        call(tmp_path / "nope.safetensors")
    with pytest.raises(UserError, match=r"is a folder, not a weights file"):
        call(tmp_path)


def test_corrupt_tensor_data_is_a_user_error(tmp_path):
    good = _safetensors_bytes(tmp_path)
    n = int.from_bytes(good[:8], "little")
    assert b'"F32"' in good[8:8 + n]
    bad = good[:8] + good[8:8 + n].replace(b'"F32"', b'"F16"', 1) + good[8 + n:]  # size no longer fits the shape
    (tmp_path / "bad.safetensors").write_bytes(bad)
    assert read_metadata(tmp_path / "bad.safetensors") == {"task": "toy"}
    with pytest.raises(UserError, match=r"bad\.safetensors: corrupt safetensors file \(.*\): copy or export it again$"):
        load_state_dict(tmp_path / "bad.safetensors")


def test_cli_predict_with_corrupt_weights_is_one_line(tmp_path, capsys):
    from PIL import Image

    from structnet.cli import main

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "img.png")
    data = _safetensors_bytes(tmp_path)
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    rc = main(["predict", "skeleton", str(tmp_path / "img.png"), "--out", str(tmp_path / "out"),
               "--weights", str(tmp_path / "cut.safetensors")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("structnet: error: ") and "cut.safetensors: is truncated" in lines[0]


def test_nn_does_not_import_the_engine():
    code = ("import sys, structnet.nn.weights, structnet.nn.modules, structnet.nn.precision; "
            "bad = sorted(m for m in sys.modules if m.startswith('structnet.engine')); "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]


# ----------------------------------------------------------------------------------------------- unwrap, freeze
def test_unwrap_data_parallel_and_ddp(tmp_path):
    import torch.distributed as dist

    net = make_net(0)
    assert unwrap(net) is net and unwrap(nn.DataParallel(nn.DataParallel(net))) is net
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable or already initialised")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        ddp = nn.parallel.DistributedDataParallel(net)
        assert unwrap(ddp) is net
        path = save_weights(ddp, tmp_path / "ddp.safetensors")
        assert set(load_state_dict(path)) == set(net.state_dict())  # no "module." prefix
        load_weights(ddp, path)
    finally:
        dist.destroy_process_group()


def _bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)), nn.Dropout(0.5))


def test_freeze_keeps_batchnorm_in_eval_through_train_calls():
    net = _bn_net().train()
    part = net[3]
    assert freeze(part) is part
    assert not any(p.requires_grad for p in part.parameters()) and all(p.requires_grad for p in net[0].parameters())
    assert not part[1].training and net[1].training and is_frozen_batchnorm(part[1])
    net.train()
    net.train(True)
    assert not part[1].training and part.training and net[1].training and net[4].training
    stats = {k: v.clone() for k, v in part.state_dict().items()}
    net(torch.rand(2, 3, 8, 8))
    assert all(torch.equal(stats[k], v) for k, v in part.state_dict().items())  # statistics fixed
    assert list(net.state_dict()) == list(_bn_net().state_dict())  # nothing added to the state dict
    # copies and pickles keep the frozen state
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        clone.train()
        assert not clone[3][1].training and clone[1].training and clone[3][1] is not part[1]
        clone.eval().train()
        assert not clone[3][1].training
    unfreeze(part)
    assert all(p.requires_grad for p in part.parameters()) and not is_frozen_batchnorm(part[1])
    assert part[1].training  # takes the mode of the part (train)
    net.eval()
    net.train()
    assert part[1].training


def test_freeze_batchnorm_only_keeps_parameters_learning():
    net = _bn_net().train()
    freeze(nn.DataParallel(net), parameters=False)  # wrappers are unwrapped
    assert all(p.requires_grad for p in net.parameters())
    net.train()
    assert not net[1].training and not net[3][1].training and net[0].training
    out = net(torch.rand(2, 3, 8, 8)).sum()
    out.backward()
    assert net[1].weight.grad is not None  # the affine BatchNorm weights still learn
    freeze(net)  # freezing twice is harmless
    unfreeze(net, parameters=False)
    assert not any(p.requires_grad for p in net.parameters()) and net[1].training
