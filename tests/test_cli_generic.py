"""What a new user hits on every task: output names, --overwrite, bad output paths, sub-folders, thread counts,
start-up time, Ctrl-C during training, scoring without predictions."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import structnet.tasks

from structnet.cli import main
from structnet.data.io import write_png

TASKS = structnet.tasks.names()
#: flags that let a task run on the synthetic photo (it shows no person)
FLAGS = {"pose3d": ["--min-joints", "0", "--min-leg-joints", "0"]}


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "in" / "a.png"
    write_png(p, np.random.default_rng(0).integers(0, 255, (48, 64, 3)).astype(np.uint8))
    return p


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("structnet: error: ") and "Traceback" not in err[0], err
    return err[0]


# ------------------------------------------------------------------------------------------ output names
def test_tasks_sharing_an_out_folder_write_distinct_files(photo, tmp_path, capsys):
    out = tmp_path / "out"
    names = {}
    for t in TASKS:
        before = set(os.listdir(out)) if out.is_dir() else set()
        assert main(["predict", t, str(photo), "--out", str(out), "--quiet", "--threads", "1",
                     *FLAGS.get(t, [])]) == 0, t
        new = set(os.listdir(out)) - before
        assert new and all(n.startswith(f"a_{t}") for n in new), (t, sorted(new))
        names[t] = new
    total = sum(len(v) for v in names.values())
    assert len(os.listdir(out)) == total  # nothing replaced by another task


def test_written_files_have_declared_suffixes(photo, tmp_path):
    from structnet import tasks

    for t in TASKS:
        task = tasks.get(t)
        assert task.output_suffixes, t
        assert all(s.startswith(f"_{t}") for s in task.output_suffixes), (t, task.output_suffixes)


def test_a_rerun_refuses_to_replace_files_it_did_not_write(photo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["predict", "extraction", str(photo), "--out", str(out), "--quiet", "--prob"]) == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(["predict", "extraction", str(photo), "--out", str(out), "--quiet"]) == 2
    line = _err_line(capsys)
    assert "a_extraction" in line and "--overwrite" in line, line
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamp  # nothing touched


def test_overwrite_replaces_a_stems_outputs_as_a_set(photo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["predict", "extraction", str(photo), "--out", str(out), "--quiet", "--prob"]) == 0
    assert (out / "a_extraction_prob.png").is_file()
    (out / "other.txt").write_text("mine")
    assert main(["predict", "extraction", str(photo), "--out", str(out), "--quiet", "--overwrite"]) == 0
    names = sorted(os.listdir(out))
    assert "a_extraction_prob.png" not in names, names  # no stale file of the earlier run beside the new ones
    assert "a_extraction_mask.png" in names and (out / "other.txt").read_text() == "mine"
    assert not [n for n in names if n.startswith(".")], names  # no staging left behind


def test_a_failed_image_keeps_its_old_outputs(photo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["predict", "pose2d", str(photo), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    photo.write_bytes(b"not an image any more")
    assert main(["predict", "pose2d", str(photo), "--out", str(out), "--quiet", "--overwrite"]) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ------------------------------------------------------------------------------------- bad output paths
@pytest.mark.parametrize("verb", ["eval", "score"])
def test_json_into_a_folder_is_refused_before_any_work(verb, tmp_path, capsys, monkeypatch):
    from structnet.tasks import run

    monkeypatch.setattr(run, "evaluate", lambda *a, **k: pytest.fail("evaluated before checking --json"))
    (tmp_path / "pred").mkdir()
    argv = (["eval", "extraction", "--max-images", "1"] if verb == "eval"
            else ["score", "extraction", "--pred", str(tmp_path / "pred")])
    assert main(argv + ["--json", str(tmp_path)]) == 2
    line = _err_line(capsys)
    assert "--json" in line and "folder" in line, line


def test_score_plot_into_a_folder_is_refused(tmp_path, capsys):
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    assert main(["score", "skeleton", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--plot",
                 str(tmp_path)]) == 2
    assert "--plot" in _err_line(capsys)


def test_json_in_a_read_only_folder_is_refused(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k))
    assert main(["eval", "extraction", "--max-images", "1", "--json", str(ro / "r.json")]) == 2
    line = _err_line(capsys)
    assert "--json" in line and "not writable" in line, line


def test_predict_out_that_is_a_file_is_refused_before_loading(photo, tmp_path, capsys, monkeypatch):
    from structnet import hub

    monkeypatch.setattr(hub, "load", lambda *a, **k: pytest.fail("model loaded before checking --out"))
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["predict", "skeleton", str(photo), "--out", str(f)]) == 2
    line = _err_line(capsys)
    assert "--out" in line and "is a file" in line, line
    assert main(["predict", "skeleton", str(photo), "--out", str(f / "sub")]) == 2
    assert "--out" in _err_line(capsys)


def test_demo_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["demo", "--out", str(f)]) == 2
    assert "--out" in _err_line(capsys)


def test_train_out_dir_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["train", "skeleton", "--config", "lmsds_lite0_cpu", f"train.out_dir={f}"]) == 2
    line = _err_line(capsys)
    assert "train.out_dir" in line and "is a file" in line, line


# ---------------------------------------------------------------------------------------- sub-folders
def test_predict_says_how_many_images_in_sub_folders_were_skipped(photo, tmp_path, capsys):
    d = photo.parent
    write_png(d / "sub" / "b.png", np.zeros((20, 20, 3), np.uint8))
    write_png(d / "sub" / "deeper" / "c.png", np.zeros((20, 20, 3), np.uint8))
    assert main(["predict", "extraction", str(d), "--out", str(tmp_path / "o1"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "1 image(s) written" in out.out
    assert "2 image(s) in sub-folders" in out.err and "--recursive" in out.err, out.err
    assert main(["predict", "extraction", str(d), "--out", str(tmp_path / "o2"), "--quiet", "--recursive"]) == 0
    out = capsys.readouterr()
    assert "3 image(s) written" in out.out and "sub-folders" not in out.err
    assert sorted(p.name for p in (tmp_path / "o2").glob("*_extraction.json")) == \
        ["a_extraction.json", "b_extraction.json", "c_extraction.json"]


# ------------------------------------------------------------------------------------------ threads etc.
def test_absurd_thread_counts_are_refused(photo, tmp_path, capsys, monkeypatch):
    assert main(["predict", "skeleton", str(photo), "--out", str(tmp_path / "o"), "--threads", "100000"]) == 2
    line = _err_line(capsys)
    assert "--threads" in line and "at most" in line, line
    assert not (tmp_path / "o").exists()
    from structnet import runtime
    from structnet.errors import UserError

    monkeypatch.setenv("STRUCTNET_THREADS", "100000")
    with pytest.raises(UserError, match="STRUCTNET_THREADS.*at most"):
        runtime.set_threads(None)


def test_messages_use_an_before_a_vowel(photo, tmp_path, capsys):
    from structnet import hub

    with pytest.raises(Exception, match="not an extraction model"):
        hub.load("lmsds_efficientnet_lite0", task="extraction")
    assert main(["predict", "skeleton", str(photo), "--out", str(tmp_path / "o"), "--model",
                 "extraction_joint_duts"]) == 2
    assert "an extraction model, not a skeleton model" in _err_line(capsys)


def test_score_extraction_without_matching_predictions_is_one_line(tmp_path, capsys):
    from structnet.data.io import write_png as wp

    (tmp_path / "pred").mkdir()
    for i in range(3):
        wp(tmp_path / "images" / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
        wp(tmp_path / "masks" / f"{i}.png", np.zeros((8, 8), np.uint8))
    rc = main(["score", "extraction", "--pred", str(tmp_path / "pred"), "--images", str(tmp_path / "images"),
               "--masks", str(tmp_path / "masks"), "--json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert rc == 2 and "nan" not in out.lower(), out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("structnet: error: ") and "3" in lines[0], lines
    assert not (tmp_path / "r.json").exists()


def test_training_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    import io

    from structnet.engine import trainer as tr

    assert not tr.show_progress(True, io.StringIO())

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert tr.show_progress(True, Terminal()) and not tr.show_progress(False, Terminal())
    from _engine_toy import ToyDataset, make_net, toy_loss
    from structnet.engine import ProgressBarHook, TrainConfig

    cfg = TrainConfig(max_iters=2, batch_size=4, out_dir=str(tmp_path), progress_bar=True, tensorboard=False)
    trainer = tr.Trainer(make_net(0), toy_loss, ToyDataset(), cfg)  # pytest's stderr is not a terminal
    assert not any(isinstance(h, ProgressBarHook) for h in trainer.hooks)
    assert [h.echo for h in trainer.hooks if type(h).__name__ == "CSVLogHook"] == [True]  # log lines instead


# ------------------------------------------------------------------------------------------- start-up
def _seconds(*args) -> float:
    """Best of 3 wall times of ``python *args`` with this checkout's sources first on the path."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
        best = min(best, time.perf_counter() - t0)
        assert r.returncode == 0, r.stderr
    return best


def test_version_and_top_level_help_start_fast():
    # 0.1-0.2 s on a quiet machine (importing torch alone takes over 1 s); a busy machine slows every start-up,
    # so the bound grows with the time a bare interpreter takes to start
    bound = max(1.0, 5 * _seconds("-c", "pass"))
    assert _seconds("-m", "structnet.cli", "--version") < bound
    assert _seconds("-m", "structnet.cli", "--help") < bound


def test_version_and_help_do_not_import_torch():
    code = ("import sys, io, contextlib\n"
            "import structnet, structnet.cli\n"
            "assert 'torch' not in sys.modules, 'import'\n"
            "for argv in (['--version'], ['--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as f:\n"
            "        assert structnet.cli.main(argv) == 0\n"
            "    assert 'structnet' in f.getvalue()\n"
            "assert 'torch' not in sys.modules, 'main'\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


def test_top_level_help_lists_every_verb(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("train", "eval", "predict", "score", "export", "models", "configs", "demo"):
        assert verb in out
    assert main(["nope"]) == 2
    assert "invalid choice" in _err_line(capsys)


# ------------------------------------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_during_training_saves_a_checkpoint_and_resume_continues_from_it(tmp_path):
    import torch

    from _engine_toy import ToyDataset, make_net, toy_loss
    from structnet.engine import OptimConfig, ScheduleConfig, TrainConfig, Trainer, load_latest_checkpoint

    def run(out, loss=toy_loss):
        cfg = TrainConfig(max_iters=12, batch_size=4, out_dir=str(out), checkpoint_every=5, log_every=3,
                          progress_bar=False, tensorboard=False, keep_checkpoints=0)
        tr = Trainer(make_net(0), loss, ToyDataset(), cfg, OptimConfig(lr=0.05), ScheduleConfig(name="poly"))
        tr.train(resume=True)
        return tr

    whole = run(tmp_path / "a")
    calls = {"n": 0}

    def ctrl_c_in_step_8(model, batch):
        calls["n"] += 1
        if calls["n"] == 8:  # in the loss of step 8: steps 1-7 are complete, the checkpoint of step 5 is older
            raise KeyboardInterrupt
        return toy_loss(model, batch)

    with pytest.raises(KeyboardInterrupt) as e:
        run(tmp_path / "b", ctrl_c_in_step_8)
    msg = str(e.value)
    path, state = load_latest_checkpoint(tmp_path / "b")
    assert state["step"] == 7 and str(path) in msg and "step 7" in msg, msg
    resumed = run(tmp_path / "b")
    assert resumed.start_step == 7 and resumed.step == 12
    for (n, p), (_, q) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.equal(p, q), n  # as if never interrupted


def test_cli_says_where_the_interrupted_training_saved(tmp_path, capsys, monkeypatch):
    from structnet.engine.trainer import TrainingInterrupted
    from structnet.tasks import run

    def stop(*a, **k):
        raise TrainingInterrupted("training stopped at step 3 of 9; checkpoint of step 3: run/ckpt_000003.pt")

    monkeypatch.setattr(run, "train", stop)
    assert main(["train", "skeleton", "--config", "lmsds_lite0_cpu", f"train.out_dir={tmp_path / 'run'}"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["structnet: interrupted: training stopped at step 3 of 9; checkpoint of step 3: "
                   "run/ckpt_000003.pt"], err


# ------------------------------------------------------------------------------------------ pose3d compile
def test_a_short_pose3d_eval_does_not_compile_its_renderer(tmp_path, monkeypatch, capsys):
    import torch

    from test_pose3d_task import write_synthetic_h36m

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled.append(fn) or fn)
    data = write_synthetic_h36m(tmp_path / "h36m")
    assert main(["eval", "pose3d", "--model", "skeleton_map_lifter_h36m", "--data", str(data), "--subjects", "S9",
                 "--quiet", "--threads", "1", "--json", str(tmp_path / "r.json")]) == 0
    assert compiled == []
    assert "recompile" not in capsys.readouterr().err


def test_the_renderer_compiles_after_the_plain_one_has_drawn_long_enough(monkeypatch):
    import torch

    from structnet.pose3d import render
    from structnet.pose3d.config import Pose3DEvalConfig

    assert Pose3DEvalConfig().compile_renderer is None  # auto
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled.append(fn) or fn)
    j, d = torch.rand(2, 17, 2) * 16, torch.rand(2, 17) + 3
    fn = render.compiled_renderer(dynamic=True, after_seconds=1e9)
    assert torch.equal(fn(j, d, 16, 2.0), render.render_skeleton_maps(j, d, 16, 2.0)) and compiled == []
    fn = render.compiled_renderer(dynamic=True, after_seconds=0.0)
    assert torch.equal(fn(j, d, 16, 2.0), render.render_skeleton_maps(j, d, 16, 2.0)) and len(compiled) == 1
