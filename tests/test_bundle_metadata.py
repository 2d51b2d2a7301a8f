"""The task writes its own model metadata (Task.save_model / Task.bundle_metadata): given a bundled model's own
evaluation results and settings (read back from its file), it reproduces exactly the metadata that file carries,
so the headline of `structnet models` and the loaded model's stored settings come from the task, not from a
script."""
import json

import pytest
import torch

from structnet import tasks
from structnet.bundled import bundled_weights
from structnet.nn.weights import read_metadata
from structnet.tasks.base import HALF_STORAGE, Task
from structnet.tasks.loading import task_of

#: What bundling adds to a trained file's metadata (everything else is the training run's: model_metadata,
#: train_config, train_steps, ...).
BUNDLE_KEYS = {"name", "command", "storage", "budget", "threshold", "threshold_source", "max_side", "tta_scales",
               "tta_flip", "visibility"}


def _bundle_key(k: str) -> bool:
    return k in BUNDLE_KEYS or k.startswith("test_") or k.startswith("sh_")


def _inputs(task: str, m: dict):
    """``(evaluation, settings)`` as the bundle script passes them, rebuilt from a bundled file's metadata."""
    f = lambda k: float(m[k])  # noqa: E731
    if task == "skeleton":
        return ({"dataset": m["test_dataset"], "ods_f": f("test_ods_f"), "ois_f": f("test_ois_f"), "ap": f("test_ap")},
                {"threshold": f("threshold"), "threshold_source": m["threshold_source"],
                 "max_side": int(m["max_side"]), "scales": m["tta_scales"], "flip": m["tta_flip"] == "true"})
    if task == "pose2d":
        settings = {"visibility": json.loads(m["visibility"])} if "visibility" in m else {}
        if "test_box_iou" in m:
            return {"person_box": {"dataset": m["test_dataset"], "mean_iou": f("test_box_iou"),
                                   "iou50": f("test_box_iou50")}}, settings
        name, split = m["test_dataset"].split(" ")
        if "test_pck_annotated_window" in m:
            annotation = {"dataset": {"name": name, "split": split}, "metric": "PCK@0.2",
                          "mean": f("test_pck_annotated_window"), "auc": 0.0}
            auto = {"metric": m["test_metric"].removesuffix(" whole images"), "mean": f("test_pck"),
                    "auc": f("test_auc")}
        else:
            annotation = {"dataset": {"dataset": name, "split": split}, "metric": m["test_metric"],
                          "mean": f("test_pck"), "auc": f("test_auc")}
            auto = None
        return {"annotation": annotation, "auto": auto}, settings
    if task == "pose3d":
        if "test_maps_iou" in m:
            return {"synthetic": {"maps_iou": f("test_maps_iou"), "mpjpe_mm": f("test_mpjpe_mm"),
                                  "p_mpjpe_mm": f("test_p_mpjpe_mm")}}, {}
        sh = {"mpjpe_mm": f("sh_mpjpe_mm"), "p_mpjpe_mm": f("sh_p_mpjpe_mm")} if "sh_mpjpe_mm" in m else None
        return {"gt2d": {"mpjpe_mm": f("test_mpjpe_mm"), "p_mpjpe_mm": f("test_p_mpjpe_mm")}, "sh": sh}, {}
    if task == "hypercolumn":
        ev = {"task": m["labels"]}
        if m["labels"] == "keypoints":
            ev["pck"] = f("test_pck")
        elif m["labels"] == "parts":
            ev["miou"] = f("test_miou")
        else:
            ev.update(mean_iou=f("test_mean_iou"), data=f"../shared/data/{m['test_dataset'].lower()}")
        return ev, {}
    if task == "extraction":
        return {"j": f("test_j"), "p": f("test_p"), "mae": f("test_mae"), "max_f": f("test_max_f")}, {}
    raise AssertionError(f"no bundled-model inputs for task {task!r}")


@pytest.mark.parametrize("name", sorted(bundled_weights()))
def test_save_model_reproduces_the_bundled_metadata(name, tmp_path):
    stored = read_metadata(bundled_weights()[name])
    owner = task_of(stored, name)
    task = tasks.get(owner)
    trained = {k: v for k, v in stored.items() if not _bundle_key(k)}
    evaluation, settings = _inputs(owner, stored)
    config = stored["command"].removeprefix(f"structnet train {owner} --config ")
    out = task.save_model(torch.nn.Linear(2, 1), tmp_path / "w.safetensors", trained, name=name, config=config,
                          budget=stored.get("budget"), evaluation=evaluation, settings=settings,
                          half="storage" in stored)
    # every file written now names its task as structnet_task (the oldest bundled file has only "task")
    assert read_metadata(out) == {**stored, "structnet_task": owner}
    decoded = read_metadata(out, decode=True)
    assert task.headline(decoded) == task.headline(read_metadata(bundled_weights()[name], decode=True)) != ""


def test_bundled_files_cover_the_tasks_that_store_settings():
    owners = {task_of(read_metadata(p), p) for p in bundled_weights().values()}
    assert {"skeleton", "pose2d"} <= owners


def test_save_model_of_a_training_run_writes_meta_and_task_only(tmp_path):
    """What tasks.run.train writes: the given metadata plus structnet_task, no bundle keys."""
    for name in tasks.names():
        out = tasks.get(name).save_model(torch.nn.Linear(2, 1), tmp_path / f"{name}.safetensors",
                                         {"model_config": {"a": 1}, "train_steps": 3})
        assert read_metadata(out, decode=True) == {"model_config": {"a": 1}, "train_steps": 3, "structnet_task": name}


def test_default_bundle_metadata_and_half_storage(tmp_path):
    assert Task().bundle_metadata({"x": 1}, {"y": 2}) == {}
    out = tasks.get("pose3d").save_model(torch.nn.Linear(2, 1), tmp_path / "h.safetensors", {}, name="n",
                                         config="c.yaml", half=True)
    meta = read_metadata(out)
    assert meta == {"name": "n", "command": "structnet train pose3d --config c.yaml", "storage": HALF_STORAGE,
                    "structnet_task": "pose3d"}
    from safetensors.torch import load_file

    assert load_file(str(out))["weight"].dtype == torch.float16
