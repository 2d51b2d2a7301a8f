"""Every registered task through the same tests (parametrised over ``structnet.tasks.names()``): it fills the task
contract's slots; a model's metadata rebuilds the same network; ``predict`` runs the bundled default model on a
small photo through the CLI and lists a missing file and a file that is not an image; an empty folder and a bad
``--model`` are one-line errors; ``score`` of ``predict``'s files gives ``eval``'s numbers where the task scores;
every packaged config loads. A task added to the registry is covered without an edit here; only the data of its
score-equals-eval case is written per task (and a scoring task without one fails)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from structnet import hub, tasks
from structnet.cli import main
from structnet.data.io import write_png
from structnet.engine.config import CONFIGS_DIR, list_configs, load_config

NAMES = tasks.names()
ROOT = Path(__file__).resolve().parents[1]
#: flags that make a task's predict / eval quicker on tiny inputs (none needed: a task not listed runs as is)
FAST = {"skeleton": ["--max-side", "64"], "pose2d": ["--no-flip"],
        "pose3d": ["--min-leg-joints", "0"]}  # the astronaut is cut at the waist: pose3d refuses it by default
#: model overrides that keep a freshly built network small (none needed either)
SMALL = {"pose2d": ["model.stacks=1", "model.features=32"]}


def _run(argv, capsys):
    capsys.readouterr()
    rc = main(argv)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err, cap.err
    return rc, cap.out, cap.err


def _error_lines(err: str):
    return [ln for ln in err.strip().splitlines() if ln.strip()]


def test_the_registry_holds_the_five_systems():
    assert {"skeleton", "pose2d", "pose3d", "hypercolumn", "extraction"} <= set(NAMES)


# ------------------------------------------------------------------------------------------------ slots
@pytest.mark.parametrize("name", NAMES)
def test_task_fills_its_slots(name):
    task = tasks.get(name)
    task.check_slots()
    assert task.name == name and task.summary and task.outputs
    assert dataclasses.is_dataclass(task.config_class)
    cfg = task.config_class()
    for section in ("model", "train", "optim", "schedule", "eval"):
        assert dataclasses.is_dataclass(getattr(cfg, section)), section
    bundled = [m.name for m in hub.models(name)]
    assert task.default_model in bundled or (task.default_model is None and name not in tasks.BUILTIN), \
        (task.default_model, bundled)  # a built-in task predicts with a bundled model out of the box
    assert task.default_eval_config is None or task.default_eval_config in list_configs(name)


# ------------------------------------------------------------------------------------ metadata round trip
@pytest.mark.parametrize("name", NAMES)
def test_metadata_rebuilds_the_same_network(name, tmp_path):
    """model_metadata of a freshly built (small, untrained) network -> weights file -> hub.load ->
    model_from_metadata: the same module tree, the same weights, the same outputs."""
    from structnet.nn.weights import save_weights

    task = tasks.get(name)
    cfg0 = task.config_class()
    overrides = (["model.pretrained=false"] if hasattr(cfg0.model, "pretrained") else []) + SMALL.get(name, [])
    cfg = load_config(task.config_class, None, overrides)
    torch.manual_seed(0)
    net = task.build_model(cfg).eval()
    meta = dict(task.model_metadata(cfg, net))
    meta["structnet_task"] = name
    path = tmp_path / f"{name}.safetensors"
    save_weights(net, path, meta)
    loaded = hub.load(path)
    assert loaded.task == name and not loaded.network.training
    again = loaded.network
    assert type(again) is type(net) and repr(again) == repr(net)
    a, b = net.state_dict(), again.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k].float(), b[k].float()), k
    # networks that take an image batch: the same outputs
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    try:
        with torch.no_grad():
            out_a = net(x)
    except Exception:  # another input (2D joints, a box crop): the weights and structure above decide
        return
    with torch.no_grad():
        out_b = again(x)
    flat_a, flat_b = _tensors(out_a), _tensors(out_b)
    assert len(flat_a) == len(flat_b) > 0
    for u, v in zip(flat_a, flat_b):  # (kernels may pick another memory layout for the loaded copy)
        assert torch.allclose(u, v, rtol=1e-4, atol=1e-6)


def _tensors(out):
    if torch.is_tensor(out):
        return [out]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _tensors(out[k])]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    return []


# ------------------------------------------------------------------------------- predict with the bundled model
@pytest.fixture(scope="module")
def photo_inputs(tmp_path_factory):
    """A small photo (scikit-image's astronaut at 160 x 160), a file that is not an image, a missing file."""
    from PIL import Image
    from skimage import data, transform

    d = tmp_path_factory.mktemp("inputs")
    a = (transform.resize(data.astronaut(), (160, 160), anti_aliasing=True) * 255).round().astype(np.uint8)
    Image.fromarray(a).save(d / "astro.png")
    (d / "notes.jpg").write_text("this is not a JPEG\n")
    return d / "astro.png", d / "notes.jpg", d / "missing.png"


@pytest.fixture(scope="module")
def predicted(photo_inputs, tmp_path_factory):
    """One CLI predict per task (bundled default model) over the photo, the non-image and the missing file."""
    return {}


def _predict(name, photo_inputs, tmp_path_factory, capsys, predicted):
    if name not in predicted:
        out = tmp_path_factory.mktemp(f"pred_{name}")
        rc, so, se = _run(["predict", name, *map(str, photo_inputs), "--out", str(out), "--quiet",
                           *FAST.get(name, [])], capsys)
        predicted[name] = (rc, so, se, out)
    return predicted[name]


@pytest.mark.parametrize("name", NAMES)
def test_predict_runs_the_default_model_and_lists_bad_files(name, photo_inputs, tmp_path_factory, capsys,
                                                            predicted):
    photo, not_image, missing = photo_inputs
    rc, so, se, out = _predict(name, photo_inputs, tmp_path_factory, capsys, predicted)
    assert rc == 1, (so, se)  # the photo is written, the two bad files are listed
    assert "1 image(s) written" in so
    written = sorted(p for p in out.iterdir())
    assert written and all(p.name.startswith(photo.stem) and p.stat().st_size > 0 for p in written), written
    for bad in (not_image, missing):  # each on one line, with its reason
        lines = [ln for ln in se.splitlines() if ln.strip().startswith(f"{bad}: ")]
        assert len(lines) == 1, (bad, se)


@pytest.mark.parametrize("name", NAMES)
def test_predict_refuses_an_empty_folder_in_one_line(name, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, so, se = _run(["predict", name, str(tmp_path / "empty"), "--out", str(tmp_path / "out")], capsys)
    lines = _error_lines(se)
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("structnet: error: no images in"), se
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", NAMES)
def test_predict_refuses_a_bad_model_in_one_line(name, photo_inputs, tmp_path, capsys):
    photo = str(photo_inputs[0])
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "junk.safetensors").write_bytes(b"not a weights file")
    other = next(m.name for m in hub.models() if m.task != name)  # a bundled model of another task
    for model, says in (("no_such_model", "no_such_model"), (str(tmp_path / "folder.safetensors"), "folder"),
                        (str(tmp_path / "junk.safetensors"), "junk.safetensors"), (other, name)):
        rc, so, se = _run(["predict", name, photo, "--out", str(tmp_path / "out"), "--model", model], capsys)
        lines = _error_lines(se)
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("structnet: error:") and says in lines[0], \
            (model, se)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------------------- score of predict == eval
def _skeleton_case(root: Path):
    from structnet.skeleton.data import SyntheticShapesDataset
    from structnet.skeleton.gt import encode_sk_large_png

    ds = SyntheticShapesDataset(3, size=(48, 56), seed=5)
    lines = []
    for i in range(3):
        s = ds[i]
        write_png(root / "test" / "im" / f"{s['name']}.png",
                  np.round(np.transpose(s["image"], (1, 2, 0)) * 255).astype(np.uint8))
        write_png(root / "test" / "gt" / f"{s['name']}.png", encode_sk_large_png(s["skeleton"], s["scale"]))
        lines.append(f"test/im/{s['name']}.png test/gt/{s['name']}.png")
    (root / "test" / "test_pair.lst").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    fast = ["--max-side", "64", "--thresholds", "10", "--workers", "1"]
    return (sorted((root / "test" / "im").iterdir()), ["--max-side", "64"],
            ["--gt", str(root / "test" / "gt"), "--thresholds", "10", "--workers", "1"],
            ["--dataset", "sk-large", "--root", str(root), "--split", "test", *fast], ("ods_f", "ois_f", "ap"))


def _pose2d_case(root: Path):
    from structnet.pose2d.synthetic import write_lspet_folder

    d = write_lspet_folder(root, n_train=2, n_val=3, size=64, seed=5)
    val = [d / "images" / f"{n.strip()}.jpg" for n in (d / "val.txt").read_text().split()]
    data = ["--dataset", "lspet", "--root", str(d), "--split", "val"]
    return val, ["--no-flip"], data, [*data, "--window", "auto", "--no-flip"], ("mean",)


def _hypercolumn_case(root: Path):
    from structnet.extraction.synthetic import make_shapes_folder

    d = make_shapes_folder(root, n_train=1, n_test=3)
    ids = (d / "test.txt").read_text().split()
    return ([d / "images" / f"{i}.png" for i in ids], ["--task", "figure-ground"],
            ["--task", "figure-ground", "--data", str(d), "--box-kind", "image"],
            ["--task", "figure-ground", "--data", str(d), "--box-kind", "image"], ("mean_iou",))


def _extraction_case(root: Path):
    from structnet.extraction.synthetic import make_shapes_folder

    d = make_shapes_folder(root, n_train=1, n_test=3)
    return ([d / "images" / f"{i}.png" for i in (d / "test.txt").read_text().split()], ["--prob"], ["--data", str(d)],
            ["--data", str(d)], ("j", "p", "mae", "max_f"))


#: task -> (root -> (images, predict flags, score flags, eval flags, summary keys compared))
SCORE_CASES = {"skeleton": _skeleton_case, "pose2d": _pose2d_case, "hypercolumn": _hypercolumn_case,
               "extraction": _extraction_case}


def test_every_scoring_task_has_a_score_case():
    assert sorted(n for n in NAMES if tasks.get(n).can_score) == sorted(SCORE_CASES)


@pytest.mark.parametrize("name", [n for n in NAMES if n in SCORE_CASES])
def test_score_of_predict_equals_eval(name, tmp_path, capsys):
    images, pflags, sflags, eflags, keys = SCORE_CASES[name](tmp_path / "data")
    pred = tmp_path / "pred"
    rc, so, se = _run(["predict", name, *map(str, images), "--out", str(pred), "--quiet", *pflags], capsys)
    assert rc == 0, se
    rc, so, se = _run(["score", name, "--pred", str(pred), "--json", str(tmp_path / "score.json"), *sflags], capsys)
    assert rc == 0, se
    rc, so, se = _run(["eval", name, "--json", str(tmp_path / "eval.json"), "--quiet", *eflags], capsys)
    assert rc == 0, se
    s, e = json.loads((tmp_path / "score.json").read_text()), json.loads((tmp_path / "eval.json").read_text())
    for k in keys:
        assert s[k] == pytest.approx(e[k], abs=1e-9), (k, s[k], e[k])


# --------------------------------------------------------------------------------------------- packaged configs
def test_every_task_with_configs_is_registered():
    assert sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir()) == sorted(
        n for n in NAMES if (CONFIGS_DIR / n).is_dir())


@pytest.mark.parametrize("key", [f"{n}/{c}" for n in NAMES if (CONFIGS_DIR / n).is_dir() for c in list_configs(n)]
                         + [f"{p.parent.name}/{p.name}" for p in sorted((ROOT / "benchmarks" / "configs").glob("*/*.yaml"))])
def test_every_config_loads(key, monkeypatch):
    """Every packaged config (by name) and every benchmark config (by path) loads into its task's dataclasses."""
    monkeypatch.setenv("STRUCTNET_DATA", "/data")
    name, config = key.split("/")
    task = tasks.get(name)
    where = ROOT / "benchmarks" / "configs" / name / config if config.endswith(".yaml") else config
    cfg = load_config(task.config_class, where, task=name)
    assert isinstance(cfg, task.config_class)
    task.check_config(cfg)


