"""The hypercolumn task (Hariharan et al. 2015: hypercolumn pixel descriptors, a K x K grid of location-specific
classifiers) in the task contract.

Two labelling tasks, one network each: ``parts`` (PASCAL-Person-Part's 7 classes per pixel) and ``figure-ground``
(the object mask inside a box). ``--task`` picks the bundled model of that task (and must agree with a model given
by ``--model`` / ``--weights``).

* ``structnet predict hypercolumn IMG... --task parts --out DIR``: the whole image is the box (or ``--box``);
  writes ``<stem>_hypercolumn_parts.png`` and ``<stem>_hypercolumn_overlay.png``.
* ``structnet predict hypercolumn IMG --task figure-ground --box x1,y1,x2,y2 --out DIR``:
  ``<stem>_hypercolumn_mask.png`` and ``<stem>_hypercolumn_overlay.png`` (without ``--box`` the whole image).
* ``structnet eval hypercolumn --task parts|figure-ground [--data DIR] --json OUT``: the same prediction code on
  the images of a folder (default: PASCAL-Person-Part test on whole images; ECSSD test in its ground-truth boxes).

Saved models: safetensors with metadata ``structnet_task`` = ``task`` = ``"hypercolumn"`` and ``model_config``
(JSON of :meth:`HypercolumnNet.config`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..errors import UserError
from ..tasks.base import Task
from ..tasks.options import check, check_box
from .config import EVAL_DEFAULTS, TASKS, HypercolumnConfig, HypercolumnPredictOptions, HypercolumnScoreOptions

__all__ = ["HypercolumnTask", "TASK", "DEFAULT_MODELS"]

#: the bundled model of each labelling task (``--task``)
DEFAULT_MODELS = {"parts": "hypercolumn_parts_pascal", "figure-ground": "hypercolumn_figure_ground_duts",
                  "keypoints": "hypercolumn_keypoints_lsp"}


def _kind(model) -> str:
    return getattr(model.network, "kind", "?")


class HypercolumnTask(Task):
    name = "hypercolumn"
    summary = ("pixel labels in a box from hypercolumns with a K x K grid of location-specific classifiers: "
               "person parts, figure-ground")
    config_class = HypercolumnConfig
    predict_options = HypercolumnPredictOptions
    score_options = HypercolumnScoreOptions
    default_model = DEFAULT_MODELS["parts"]
    default_eval_config = None
    outputs = ("<name>_hypercolumn_parts.png (--task parts), <name>_hypercolumn_mask.png (--task figure-ground) or "
               "<name>_hypercolumn_keypoints.json (--task keypoints), and <name>_hypercolumn_overlay.png per image")
    output_suffixes = ("_hypercolumn_parts.png", "_hypercolumn_mask.png", "_hypercolumn_keypoints.json",
                       "_hypercolumn_overlay.png")
    preview_suffixes = ("_hypercolumn_overlay.png",)

    def default_model_for(self, options) -> Optional[str]:
        """The bundled model of the labelling task ``options.task`` (predict options or the eval section)."""
        t = None if options is None else options.task
        return DEFAULT_MODELS.get(t, self.default_model) if t else self.default_model

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg: HypercolumnConfig):
        from .train import build_model

        return build_model(cfg)

    def check_config(self, cfg: HypercolumnConfig) -> None:
        from .train import check_config

        check_config(cfg)

    def prepare_model(self, cfg: HypercolumnConfig, net) -> None:
        import torch

        if cfg.model.init is None:  # the untrained net outputs the training labels' class frequencies
            net.set_class_prior(self.build_train_dataset(cfg).class_prior())
        net.to(memory_format=torch.channels_last)

    def model_metadata(self, cfg: HypercolumnConfig, net) -> Dict[str, Any]:
        from ..nn.modules import unwrap

        return {"task": "hypercolumn", "structnet_task": "hypercolumn", "model_config": unwrap(net).config(),
                "labels": cfg.model.task}

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        import torch

        from ..tasks.loading import LoadedModel
        from ..nn.weights import load_weights
        from .model import HypercolumnNet

        cfg = meta.get("model_config")
        if not isinstance(cfg, dict) or "grid" not in cfg:
            raise UserError(f"{path}: not a structnet hypercolumn weights file (no model_config in its metadata)")
        try:
            net = HypercolumnNet(**cfg, pretrained=False)
        except (TypeError, ValueError, KeyError) as e:
            raise UserError(f"{path}: model_config does not fit HypercolumnNet ({e})") from None
        load_weights(net, path)
        net = net.to(memory_format=torch.channels_last).eval()
        return LoadedModel(network=net, task=self.name, name=str(meta.get("name") or Path(path).stem),
                           source=Path(path))

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """``evaluation``: the JSON of ``structnet eval hypercolumn --json`` on the test set (its ``task`` says which
        result is the headline). Hypercolumn models store no settings."""
        if not evaluation:
            return {}
        ev = evaluation
        if ev["task"] == "keypoints":
            return {"test_pck": f"{ev['pck']:.4f}"}
        if ev["task"] == "parts":
            return {"test_miou": f"{ev['miou']:.4f}"}
        return {"test_mean_iou": f"{ev['mean_iou']:.4f}",
                "test_dataset": Path(str(ev.get("data", "ECSSD"))).name.upper()}

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_pck" in meta:
            return f"LSP-extended val in GT joint boxes: PCK@0.2 {100 * float(meta['test_pck']):.1f} %"
        if "test_miou" in meta:
            return f"PASCAL-Person-Part test (whole images): mIoU {float(meta['test_miou']):.3f}"
        if "test_mean_iou" in meta:
            return f"{meta.get('test_dataset', 'ECSSD')} in GT boxes: mean IoU {float(meta['test_mean_iou']):.3f}"
        return ""

    # -------------------------------------------------------------------------------------------- training
    def build_train_dataset(self, cfg: HypercolumnConfig):
        from .data import BoxCropDataset, KeypointBoxDataset

        return KeypointBoxDataset(cfg) if cfg.model.task == "keypoints" else BoxCropDataset(cfg)

    def build_loss(self, cfg: HypercolumnConfig):
        from .losses import make_loss_fn

        return make_loss_fn(cfg)

    # ------------------------------------------------------------------------------------------ evaluation
    @staticmethod
    def _resolve_eval(cfg: HypercolumnConfig, model=None) -> str:
        """Fill the eval section's task-dependent defaults; returns the labelling task."""
        from ..engine.config import expand_data_root

        e = cfg.eval
        task = e.task or (_kind(model) if model is not None else cfg.model.task)
        if task not in TASKS:
            raise UserError(f"eval.task must be one of {', '.join(TASKS)}, got {task!r}")
        root, split, box = EVAL_DEFAULTS[task]
        if e.root is None:
            e.root = expand_data_root(root)
        if e.split is None:
            e.split = split
        if e.box is None:
            e.box = box
        e.task = task
        return task

    def check_eval(self, cfg: HypercolumnConfig, model) -> None:
        task = self._resolve_eval(cfg, model)
        if _kind(model) != task:
            raise UserError(f"{model.name} labels {_kind(model)}, not {task} (pick the model with --task, or give "
                            f"a {task} model with --model)")

    def build_eval_dataset(self, cfg: HypercolumnConfig, max_images: Optional[int] = None):
        from .evaluate import EvalDataset

        task = self._resolve_eval(cfg)
        return EvalDataset(cfg.eval, task, max_images)

    def eval_predictor(self, model, cfg: HypercolumnConfig):
        from .inference import predict_image

        e = cfg.eval
        check(e)

        def fn(sample):
            return predict_image(model.network, sample["image"], sample["box"], flip=e.flip, precision=e.precision)

        return fn

    def build_evaluator(self, cfg: HypercolumnConfig, model=None):
        from .evaluate import HypercolumnEvaluator

        task = self._resolve_eval(cfg, model)
        e = cfg.eval
        settings = {"box": e.box, "margin": e.margin if e.box == "object" else None, "flip_test": bool(e.flip),
                    "data": str(e.root), "split": e.split}
        if model is not None:
            net = model.network
            settings.update(grid=net.grid, taps=list(net.taps), global_feature=net.global_feature)
        return HypercolumnEvaluator(task, settings)

    # ------------------------------------------------------------------------------------------ prediction
    def predictor(self, model, options: Optional[HypercolumnPredictOptions] = None):
        from .inference import predict_image

        o = self.options_or_defaults(options)
        check(o)
        if o.task is not None and _kind(model) != o.task:
            raise UserError(f"--task {o.task}: {model.name} labels {_kind(model)}")
        if _kind(model) == "keypoints" and o.box is None:
            raise UserError(f"{model.name} finds the joints of one person in a box: give the person's --box "
                            f"x1,y1,x2,y2")

        def fn(image):
            check_box(o.box, image.shape)
            return predict_image(model.network, image, o.box, flip=o.flip, precision=o.precision)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options: Optional[HypercolumnPredictOptions] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name, source=source)

    # ------------------------------------------------------------------------------------------- scoring
    def score(self, options: HypercolumnScoreOptions):
        """Score the label files of ``predict`` against a folder's masks with :class:`HypercolumnEvaluator`
        (images without a readable prediction file are listed as failures)."""
        import numpy as np

        from ..data.segfolder import read_labels
        from .data import image_box, object_box
        from .evaluate import EvalDataset

        o = options
        cfg = HypercolumnConfig()
        cfg.eval.task = o.task
        if o.data is not None:
            cfg.eval.root = o.data
        if o.split is not None:
            cfg.eval.split = o.split
        if o.box_kind is not None:
            cfg.eval.box = o.box_kind
        task = self._resolve_eval(cfg)
        pred = Path(o.pred)
        if not pred.is_dir():
            raise UserError(f"prediction folder not found: {pred}")
        ds = EvalDataset(cfg.eval, task)
        ev = self.build_evaluator(cfg)
        ev.settings["pred"] = str(pred)
        suffix = "_hypercolumn_parts.png" if task == "parts" else "_hypercolumn_mask.png"
        failures = []
        for i in range(len(ds)):
            name = ds.records[i].name
            f = pred / f"{name}{suffix}"
            try:
                if not f.is_file():
                    raise UserError(f"{f}: no prediction file")
                _, lab = ds.folder.load(i)
                p = read_labels(f, task)
                if p.shape != lab.shape:
                    raise UserError(f"{f}: {p.shape[1]}x{p.shape[0]}, the image is {lab.shape[1]}x{lab.shape[0]}")
                box = object_box(lab, cfg.eval.margin) if cfg.eval.box == "object" else None
                box = image_box(lab.shape) if box is None else box
                ev.process({"labels": lab, "box": box, "name": name}, {"labels": np.asarray(p)})
            except UserError as e:
                failures.append((name, str(e)))
        return ev.summarize(), ev, failures

    def to_json(self, result, image) -> Dict[str, Any]:
        """``task`` and ``box``; parts: ``parts`` ({part name: fraction of the box's pixels}, background left out);
        figure-ground: ``area`` (the object's fraction of the box); keypoints: ``layout`` and ``joints``."""
        import numpy as np

        box = [round(float(v), 2) for v in result["box"]]
        rec: Dict[str, Any] = {"task": result["task"], "box": box}
        if result["task"] == "keypoints":
            from ..keypoints.layouts import get_layout

            lay = get_layout("lsp14")
            rec["layout"] = "lsp14"
            rec["joints"] = [{"name": n, "x": round(float(x), 2), "y": round(float(y), 2), "score": round(float(s), 5)}
                             for n, (x, y), s in zip(lay.joints, np.asarray(result["keypoints"], np.float64),
                                                      np.asarray(result["scores"], np.float64))]
            return rec
        lab = np.asarray(result["labels"])
        h, w = lab.shape
        x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        inside = lab[y1:y2, x1:x2] if x2 > x1 and y2 > y1 else lab
        if result["task"] == "parts":
            from .data import PART_NAMES

            counts = np.bincount(inside.reshape(-1).astype(np.int64), minlength=len(PART_NAMES))
            rec["parts"] = {PART_NAMES[i]: round(float(counts[i]) / max(1, inside.size), 5)
                            for i in range(1, len(PART_NAMES)) if counts[i] > 0}
        else:
            rec["area"] = round(float((inside > 0).mean()), 5)
        return rec

    def describe(self, result) -> str:
        import numpy as np

        if result["task"] == "keypoints":
            return f"keypoints: mean score {float(np.mean(result['scores'])):.2f}"
        lab = np.asarray(result["labels"])
        if result["task"] == "parts":
            from .data import PART_NAMES

            present = [PART_NAMES[i] for i in np.unique(lab) if i > 0]
            return "parts: " + (", ".join(present) if present else "none")
        return f"object: {100.0 * float((lab > 0).mean()):.1f} % of the image"


TASK = HypercolumnTask()
