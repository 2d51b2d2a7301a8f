"""The task contract: a sixth task (tests/toy_task/: its folder, and the one line that registers it; no edit
anywhere else) is trained, evaluated and run on image files through the same CLI and generic loops as the built-in
tasks, and passes the registry suite's checks; the registry, the hub and ``structnet models``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from structnet import hub, tasks
from structnet.cli import main
from structnet.data.io import read_image, write_png
from structnet.errors import UserError
from structnet.tasks import Task
from toy_task import TASK
from toy_task.config import ToyConfig
from toy_task.data import bright_square
from toy_task.model import ToyNet


@pytest.fixture
def toy_task():
    task = tasks.register(TASK)  # the one line that adds the task
    yield task
    tasks.unregister("toy")


# ------------------------------------------------------------------------------------------------ tests
def test_registry_lists_the_built_in_tasks_and_fills_every_slot():
    assert tasks.names() == ["extraction", "hypercolumn", "pose2d", "pose3d", "skeleton"]
    for name in tasks.names():
        t = tasks.get(name)
        assert t.name == name and t.config_class is not None and t.default_model
        t.check_slots()
    with pytest.raises(UserError, match="unknown task 'nope'; tasks: extraction, hypercolumn, pose2d, pose3d, skeleton"):
        tasks.get("nope")


def test_a_task_with_an_empty_slot_is_refused():
    class Half(Task):
        name = "half"
        config_class = ToyConfig

        def build_model(self, cfg):
            return ToyNet()

    with pytest.raises(TypeError, match="model_metadata.*write"):
        tasks.register(Half())
    assert "half" not in tasks.names()


def test_toy_task_trains_evaluates_and_predicts_through_the_cli(toy_task, tmp_path, capsys):
    assert tasks.names() == ["extraction", "hypercolumn", "pose2d", "pose3d", "skeleton", "toy"]
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"train:\n  out_dir: {tmp_path / 'run'}\n  max_iters: 80\n  batch_size: 8\n"
                   f"  checkpoint_every: 80\n  progress_bar: false\n  seed: 0\n")
    torch.manual_seed(0)
    untrained = tmp_path / "untrained.safetensors"
    from structnet.nn.weights import save_weights

    save_weights(ToyNet(8), untrained, {"structnet_task": "toy", "model_config": {"width": 8}})
    assert main(["eval", "toy", "--model", str(untrained), "--config", str(cfg), "--json",
                 str(tmp_path / "before.json"), "--threads", "1"]) == 0
    assert main(["train", "toy", "--config", str(cfg), "--threads", "1"]) == 0
    weights = tmp_path / "run" / "model.safetensors"
    assert weights.is_file()
    loaded = hub.load(weights)
    assert loaded.task == "toy" and isinstance(loaded.network, ToyNet) and not loaded.network.training
    assert main(["eval", "toy", "--model", str(weights), "--config", str(cfg), "--json",
                 str(tmp_path / "after.json")]) == 0
    before = json.loads((tmp_path / "before.json").read_text())
    after = json.loads((tmp_path / "after.json").read_text())
    assert after["n"] == before["n"] == 16 and after["failed"] == []
    assert after["iou"] > 0.8 and after["iou"] > before["iou"] + 0.3, (before["iou"], after["iou"])
    # predict on image files, colliding stems kept apart
    img, mask = bright_square(24, np.random.default_rng(7))
    (tmp_path / "in" / "a").mkdir(parents=True)
    write_png(tmp_path / "in" / "a" / "x.png", img)
    write_png(tmp_path / "in" / "x.png", img)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    capsys.readouterr()
    rc = main(["predict", "toy", str(tmp_path / "in" / "x.png"), str(tmp_path / "in" / "a"),
               str(tmp_path / "in" / "broken.png"), "--out", str(tmp_path / "out"), "--model", str(weights)])
    out, err = capsys.readouterr()
    assert rc == 1 and "broken.png" in err and "Traceback" not in err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(written) == 2 and len(set(written)) == 2, written
    pred = read_image(tmp_path / "out" / written[0])[..., 0] > 127
    assert (pred & mask).sum() / (pred | mask).sum() > 0.8
    # the toy model belongs to the toy task
    assert main(["predict", "skeleton", str(tmp_path / "in" / "x.png"), "--out", str(tmp_path / "o2"),
                 "--model", str(weights)]) == 2
    assert "a toy model, not a skeleton model" in capsys.readouterr().err


def test_toy_task_passes_the_registry_suite(toy_task, tmp_path, capsys):
    """The registry suite's checks that need no bundled model hold for the toy task as they are."""
    import test_registry as suite

    suite.test_task_fills_its_slots("toy")
    suite.test_metadata_rebuilds_the_same_network("toy", tmp_path)
    capsys.readouterr()
    try:
        main(["predict", "--help"])
    except SystemExit:
        pass
    assert "toy" in capsys.readouterr().out  # a verb of the CLI like every task


def test_models_lists_the_bundled_models(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["lmsds_efficientnet_lite0"]["task"] == "skeleton"
    assert rows["mss_msr_hourglass2_lsp"]["task"] == rows["mss_msr_efficientnet_lite0_lsp"]["task"] == "pose2d"
    assert "ODS F 0.622" in rows["lmsds_efficientnet_lite0"]["headline"]
    assert "PCK@0.2 18.7" in rows["mss_msr_hourglass2_lsp"]["headline"]
    assert "PCK@0.2 whole images 64.3" in rows["mss_msr_efficientnet_lite0_lsp"]["headline"]
    for r in rows.values():
        assert 0 < r["size_mb"] <= 20
    assert main(["models"]) == 0
    assert "lmsds_efficientnet_lite0" in capsys.readouterr().out
    assert [m.name for m in hub.models("pose2d")] == ["mss_msr_efficientnet_lite0_lsp", "mss_msr_hourglass2_lsp",
                                                      "person_box_lite0_lspet"]
    assert "person box IoU whole images 0.710" in rows["person_box_lite0_lspet"]["headline"]
    assert hub.load(None, task="pose2d").name == "mss_msr_efficientnet_lite0_lsp"  # the default


def test_hub_errors_are_one_line_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown model 'nope'"):
        hub.load("nope")
    with pytest.raises(UserError, match="is a folder"):
        hub.load(tmp_path)
    with pytest.raises(UserError, match="task 'skeleton' has no|no model given"):
        hub.load(None)
    bare = tmp_path / "bare.safetensors"
    from structnet.nn.weights import save_weights

    save_weights(ToyNet(4), bare)
    with pytest.raises(UserError, match="names no task"):
        hub.load(bare)


# --------------------------------------------------------------------------------- what a new user hit
@pytest.mark.parametrize("argv, flag", [
    (["predict", "skeleton", "x.png", "--out", "o", "--max-side", "-5"], "--max-side"),
    (["predict", "skeleton", "x.png", "--out", "o", "--threshold", "2"], "--threshold"),
    (["score", "skeleton", "--pred", "p", "--gt", "g", "--tolerance", "-1"], "--tolerance"),
    (["eval", "skeleton", "--tolerance", "0"], "--tolerance"),
    (["predict", "pose2d", "x.png", "--out", "o", "--box", "1,2,3"], "--box"),
    (["predict", "pose2d", "x.png", "--out", "o", "--scales", "1,-1"], "--scales"),
    (["predict", "pose2d", "x.png", "--out", "o", "--threads", "-2"], "--threads"),
    (["eval", "pose2d", "--max-images", "0"], "--max-images"),
])
def test_bad_numbers_are_refused_in_one_line(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("structnet: error: argument " + flag), err
    assert not (tmp_path / "o").exists()


def test_box_outside_the_image_fails_that_image(tmp_path, capsys):
    write_png(tmp_path / "p.png", np.full((40, 30, 3), 128, np.uint8))
    rc = main(["predict", "pose2d", str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--box", "100,100,200,200",
               "--no-flip"])
    err = capsys.readouterr().err
    assert rc == 1 and "lies outside the 30x40 image" in err and "Traceback" not in err
    assert main(["predict", "pose2d", str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--box", "5,5,1,1"]) == 2
    assert "x2 > x1" in capsys.readouterr().err


def test_empty_work_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", "skeleton", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no images" in capsys.readouterr().err
    (tmp_path / "gt").mkdir()
    write_png(tmp_path / "gt" / "a.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "pred").mkdir()
    rc = main(["score", "skeleton", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--json",
               str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "no prediction" in err and not (tmp_path / "r.json").exists()


def test_eval_lists_missing_images_and_evaluates_the_rest(tmp_path, capsys):
    from structnet.pose2d.synthetic import write_lspet_folder

    root = tmp_path / "lspet"
    write_lspet_folder(root, n_train=4, n_val=2, size=64, seed=3)
    imgs = sorted((root / "images").iterdir())
    imgs[1].unlink()
    rc = main(["eval", "pose2d", "--dataset", "lspet", "--root", str(root), "--split", "all", "--no-flip",
               "--json", str(tmp_path / "r.json"), "--quiet"])
    out, err = capsys.readouterr()
    res = json.loads((tmp_path / "r.json").read_text())
    assert rc == 1 and res["n_persons"] == 5 and len(res["failed"]) == 1
    assert imgs[1].name in res["failed"][0][1] and imgs[1].name in err and "Traceback" not in err


def test_configs_by_name_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["configs", "skeleton"]) == 0
    assert "lmsds_lite0_cpu" in capsys.readouterr().out.split()
    assert main(["train", "skeleton", "--config", "no_such_config"]) == 2
    err = capsys.readouterr().err
    assert "no_such_config" in err and "lmsds_lite0_cpu" in err


def test_threads_follow_the_flag_and_the_free_cores(monkeypatch):
    from structnet import runtime

    assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("STRUCTNET_THREADS", "1")
    assert runtime.set_threads(None) == 1
    monkeypatch.setenv("STRUCTNET_THREADS", "zero")
    with pytest.raises(UserError, match="STRUCTNET_THREADS"):
        runtime.set_threads(None)
    monkeypatch.delenv("STRUCTNET_THREADS")
    monkeypatch.setattr(runtime, "free_cores", lambda interval=0.05: 1)
    assert runtime.set_threads(None) == 1
    assert 1 <= runtime.free_cores() <= runtime.available_cores()


def test_free_cores_counts_busy_cores(monkeypatch):
    from structnet import runtime

    samples = iter([[[100, 1000], [100, 1000]], [[200, 1100], [190, 1100]]])  # core 0 fully busy, core 1 90 %
    monkeypatch.setattr(runtime, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(runtime.time, "sleep", lambda s: None)
    assert runtime.free_cores() == 1  # 0 + 0.1 idle cores -> at least 1
    samples = iter([[[100, 1000], [100, 1000]], [[100, 1100], [110, 1100]]])  # both ~idle
    monkeypatch.setattr(runtime, "_cpu_times", lambda: next(samples))
    assert runtime.free_cores() == 2


def test_progress_bar_only_on_a_terminal_and_not_quiet(monkeypatch):
    import io
    import sys

    from structnet.runtime import progress

    items = [1, 2, 3]
    assert progress(items, quiet=False) is items  # pytest's stderr is not a TTY
    assert progress(items, quiet=True) is items

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = progress(items, total=3, desc="predict toy")
    assert bar is not items and list(bar) == items
    assert "predict toy" in term.getvalue() and "0/3" in term.getvalue()  # leave=False clears it at the end
    assert progress(items, quiet=True) is items  # --quiet wins on a terminal too


def test_inference_does_not_import_the_training_engine(tmp_path):
    """Loading the bundled models and predicting (the CLI's predict path) imports no trainer, checkpoint, optimizer
    or DDP code: only the typed configs of engine/config.py."""
    import subprocess
    import sys

    img = tmp_path / "a.png"
    write_png(img, np.full((40, 50, 3), 120, np.uint8))
    code = ("import sys\n"
            "from structnet.cli import main\n"
            f"assert main(['predict', 'skeleton', {str(img)!r}, '--out', {str(tmp_path / 'o')!r}, '--quiet']) == 0\n"
            f"assert main(['predict', 'pose2d', {str(img)!r}, '--out', {str(tmp_path / 'o')!r}, '--quiet']) == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('structnet.engine')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['structnet.engine', 'structnet.engine.config']", out


def test_score_pose2d_equals_eval_on_the_same_predictions(tmp_path, capsys):
    """`predict` then `score` gives the numbers of `eval --window auto` (the same predictions: predict's default window)."""
    from structnet.pose2d.synthetic import write_lspet_folder

    root = write_lspet_folder(tmp_path / "lspet", n_train=2, n_val=4, size=64, seed=5)
    val = [root / "images" / f"{n.strip()}.jpg" for n in (root / "val.txt").read_text().split()]
    assert main(["predict", "pose2d", *map(str, val), "--out", str(tmp_path / "pred"), "--quiet"]) == 0
    assert main(["score", "pose2d", "--pred", str(tmp_path / "pred"), "--dataset", "lspet", "--root", str(root),
                 "--split", "val", "--json", str(tmp_path / "score.json")]) == 0
    assert main(["eval", "pose2d", "--dataset", "lspet", "--root", str(root), "--split", "val", "--window", "auto",
                 "--json", str(tmp_path / "eval.json"), "--quiet"]) == 0
    s = json.loads((tmp_path / "score.json").read_text())
    e = json.loads((tmp_path / "eval.json").read_text())
    assert s["n_persons"] == e["n_persons"] == 4 and s["failed"] == []
    assert s["per_joint"] == pytest.approx(e["per_joint"]) and s["mean"] == pytest.approx(e["mean"])
    import torch as _torch

    from structnet.nn.onnx_backend import onnxruntime_available
    from structnet.nn.precision import resolve_precision

    # --backend auto: onnxruntime where installed and the precision (auto) resolves to float32 on this CPU
    fp32 = resolve_precision("cpu", "auto") == _torch.float32
    assert e["backend"] == ("onnxruntime" if onnxruntime_available() and fp32 else "torch")
    (tmp_path / "pred" / f"{val[0].stem}_pose2d.json").unlink()
    capsys.readouterr()
    assert main(["score", "pose2d", "--pred", str(tmp_path / "pred"), "--dataset", "lspet", "--root", str(root),
                 "--split", "val"]) == 1
    assert f"{val[0].stem}_pose2d.json: no prediction file" in capsys.readouterr().err


def test_model_init_names_a_file_a_bundled_model_or_the_previous_stage(tmp_path):
    from structnet.tasks.run import resolve_init

    f = tmp_path / "w.safetensors"
    f.write_bytes(b"x")
    assert resolve_init(str(f), None) == f
    assert resolve_init("lmsds_efficientnet_lite0", None) == hub.bundled_path("lmsds_efficientnet_lite0")
    assert resolve_init("previous", tmp_path / "p.safetensors") == tmp_path / "p.safetensors"
    assert resolve_init(None, None) is None and resolve_init("", None) is None
    with pytest.raises(UserError, match=r"model.init: weights file not found: nope .*bundled model: .*lmsds"):
        resolve_init("nope", None)
    with pytest.raises(UserError, match="first stage"):
        resolve_init("previous", None)
