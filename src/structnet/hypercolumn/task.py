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
from typing import Any, Dict, List, Optional

from ..errors import UserError
from ..tasks.args import floats
from ..tasks.base import Task
from .config import EVAL_DEFAULTS, TASKS, HypercolumnConfig

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
    default_model = DEFAULT_MODELS["parts"]
    default_eval_config = None
    outputs = ("<name>_hypercolumn_parts.png (--task parts), <name>_hypercolumn_mask.png (--task figure-ground) or "
               "<name>_hypercolumn_keypoints.json (--task keypoints), and <name>_hypercolumn_overlay.png per image")
    output_suffixes = ("_hypercolumn_parts.png", "_hypercolumn_mask.png", "_hypercolumn_keypoints.json",
                       "_hypercolumn_overlay.png")

    def default_model_for(self, options) -> Optional[str]:
        t = getattr(options, "target", None)
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
        from .train import make_loss_fn

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

    def add_eval_arguments(self, p) -> None:
        p.add_argument("--task", dest="target", default=None, choices=list(TASKS),
                       help="labelling task: its bundled model and its default data (parts: PASCAL-Person-Part "
                            "test, whole images; figure-ground: ECSSD test in GT boxes; keypoints: LSP-extended val "
                            "in the boxes of the GT joints)")
        p.add_argument("--data", default=None, help="folder with images/, masks/ and <split>.txt (= --root)")
        p.add_argument("--box-kind", default=None, choices=["image", "object"],
                       help="the box of each image: the whole image, or the mask's box widened by 10 %%")
        p.add_argument("--flip", action="store_true", help="test-time mirroring (mean of both probabilities)")

    def apply_eval_arguments(self, cfg: HypercolumnConfig, args) -> None:
        e = cfg.eval
        if getattr(args, "target", None):
            e.task = args.target
        if getattr(args, "data", None) is not None:
            e.root = args.data
        if getattr(args, "box_kind", None) is not None:
            e.box = args.box_kind
        if getattr(args, "flip", False):
            e.flip = True

    # ------------------------------------------------------------------------------------------ prediction
    def add_predict_arguments(self, p) -> None:
        p.add_argument("--task", dest="target", default=None, choices=list(TASKS),
                       help="labelling task (default parts): picks its bundled model; a --model must label it. "
                            "keypoints: give the person's --box")
        p.add_argument("--box", type=floats(4), default=None,
                       help="x1,y1,x2,y2 in pixels: the box to label (default: the whole image)")
        p.add_argument("--flip", action="store_true", help="test-time mirroring (mean of both probabilities)")

    def predictor(self, model, options):
        from .inference import predict_image

        want = getattr(options, "target", None)
        if want is not None and _kind(model) != want:
            raise UserError(f"--task {want}: {model.name} labels {_kind(model)}")
        box = getattr(options, "box", None)
        flip = bool(getattr(options, "flip", False))
        precision = getattr(options, "precision", None) or "auto"

        def fn(image):
            return predict_image(model.network, image, box, flip=flip, precision=precision)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name, source=source)

    # ------------------------------------------------------------------------------------------- scoring
    def add_score_arguments(self, p) -> None:
        p.add_argument("--task", dest="target", default="parts", choices=["parts", "figure-ground"],
                       help="labelling task of the files: parts (<stem>_hypercolumn_parts.png) or figure-ground "
                            "(<stem>_hypercolumn_mask.png)")
        p.add_argument("--pred", required=True, help="folder of the files 'structnet predict hypercolumn' wrote")
        p.add_argument("--data", default=None, help="folder with images/, masks/ and <split>.txt (default: the "
                                                    "task's eval data)")
        p.add_argument("--split", default=None, help="split file name (default test)")
        p.add_argument("--box-kind", default=None, choices=["image", "object"],
                       help="figure-ground: the region scored, the GT box widened by 10 %% (object, default) or "
                            "the whole image")

    def score(self, args):
        """Score the label files of ``predict`` against a folder's masks with :class:`HypercolumnEvaluator`
        (images without a readable prediction file are listed as failures)."""
        import numpy as np

        from ..data.segfolder import read_labels
        from .data import image_box, object_box
        from .evaluate import EvalDataset

        cfg = HypercolumnConfig()
        cfg.eval.task = args.target
        if args.data is not None:
            cfg.eval.root = args.data
        if args.split is not None:
            cfg.eval.split = args.split
        if args.box_kind is not None:
            cfg.eval.box = args.box_kind
        task = self._resolve_eval(cfg)
        pred = Path(args.pred)
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
