"""The extraction task (Wang et al. 2014: a localization net and a segmentation net trained jointly with latent box
adjustments) in the task contract.

* ``structnet predict extraction IMG... --out DIR``: ``<stem>_extraction_mask.png`` (0 / 255 at the input's
  size), ``<stem>_extraction_overlay.png`` and ``<stem>_extraction.json`` (``{"box": [x1, y1, x2, y2], "score": s}``
  in input pixels); ``--prob`` adds ``<stem>_extraction_prob.png``.
* ``structnet eval extraction --images DIR --masks DIR --json OUT`` (or ``--data DIR [--split S] [--holdout N]``;
  default ECSSD test): the same prediction on whole images, scored with P, J, MAE and max F.
* ``structnet score extraction --pred DIR --images DIR --masks DIR``: scores the files ``predict`` wrote.
* ``structnet train extraction --config joint_duts_cpu``: ``latent.search`` none | mcmc | exhaustive.

Saved models: safetensors with metadata ``structnet_task`` = ``task`` = ``"extraction"`` and ``model_config`` (JSON
of :meth:`ExtractionNet.config`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..errors import UserError
from ..tasks.base import Task, Training
from ..tasks.options import check
from .config import ExtractionConfig, ExtractionPredictOptions, ExtractionScoreOptions

__all__ = ["ExtractionTask", "TASK"]


class ExtractionTask(Task):
    name = "extraction"
    summary = ("salient object box + mask: a localization net and a segmentation net trained jointly with latent "
               "box adjustments (EM + MCMC)")
    config_class = ExtractionConfig
    predict_options = ExtractionPredictOptions
    score_options = ExtractionScoreOptions
    default_model = "extraction_joint_duts"
    default_eval_config = None
    outputs = ("<name>_extraction_mask.png, <name>_extraction_overlay.png and <name>_extraction.json (box, score) "
               "per image; --prob: <name>_extraction_prob.png")
    output_suffixes = ("_extraction_mask.png", "_extraction_overlay.png", "_extraction.json", "_extraction_prob.png")
    preview_suffixes = ("_extraction_overlay.png",)

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg: ExtractionConfig):
        from .train import build_model

        return build_model(cfg)

    def check_config(self, cfg: ExtractionConfig) -> None:
        from .train import check_config

        check_config(cfg)

    def prepare_model(self, cfg: ExtractionConfig, net) -> None:
        if cfg.model.init is None:  # the untrained nets output the mean box and the mean foreground share
            from .data import ExtractionDataset

            box, fg = ExtractionDataset(cfg, boundaries=False).priors()
            net.loc.set_box_prior(box)
            net.seg.set_foreground_prior(fg)

    def load_init(self, net, path: Path) -> None:
        from .model import load_extraction_weights

        load_extraction_weights(net, path)

    def model_metadata(self, cfg: ExtractionConfig, net) -> Dict[str, Any]:
        from ..nn.modules import unwrap

        return {"task": "extraction", "structnet_task": "extraction", "model_config": unwrap(net).config(),
                "latent_search": cfg.latent.search}

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        from ..tasks.loading import LoadedModel
        from .model import ExtractionNet, load_extraction_weights

        cfg = meta.get("model_config")
        if not isinstance(cfg, dict) or "seg_input" not in cfg:
            raise UserError(f"{path}: not a structnet extraction weights file (no model_config in its metadata)")
        try:
            net = ExtractionNet(**cfg, pretrained=False)
        except (TypeError, ValueError, KeyError) as e:
            raise UserError(f"{path}: model_config does not fit ExtractionNet ({e})") from None
        load_extraction_weights(net, path)
        import torch

        net = net.to(memory_format=torch.channels_last)  # ~10 % faster on CPU (measured, float32)
        return LoadedModel(network=net.eval(), task=self.name, name=str(meta.get("name") or Path(path).stem),
                           source=Path(path))

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """``evaluation``: the JSON of ``structnet eval extraction --json`` on ECSSD (the headline). Extraction
        models store no settings."""
        if not evaluation:
            return {}
        ev = evaluation
        return {"test_j": f"{ev['j']:.4f}", "test_p": f"{ev['p']:.4f}", "test_mae": f"{ev['mae']:.4f}",
                "test_max_f": f"{ev['max_f']:.4f}"}

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_j" in meta:
            return f"ECSSD whole images: J {float(meta['test_j']):.3f}, P {float(meta.get('test_p', 0)):.3f}"
        return ""

    # -------------------------------------------------------------------------------------------- training
    def build_train_dataset(self, cfg: ExtractionConfig):
        from .data import ExtractionDataset

        return ExtractionDataset(cfg, seed=cfg.train.seed)

    def build_loss(self, cfg: ExtractionConfig):
        from .losses import JointLoss

        return JointLoss(cfg)

    def build_training(self, cfg: ExtractionConfig) -> Training:
        """The dataset, the joint loss and the hook that runs the latent E-step on that loss."""
        from .train import LatentHook

        loss = self.build_loss(cfg)
        hook = LatentHook(loss, cfg.train.out_dir, cfg.train.checkpoint_every, cfg.train.log_every)
        return Training(self.build_train_dataset(cfg), loss, [hook])

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg: ExtractionConfig, max_images: Optional[int] = None):
        from .evaluate import EvalDataset

        return EvalDataset(cfg.eval, max_images)

    def eval_predictor(self, model, cfg: ExtractionConfig):
        from .inference import extract

        e = cfg.eval
        check(e)

        def fn(sample):
            return extract(model.network, sample["image"], precision=e.precision, threshold=e.threshold,
                           refine=e.refine, refine_margin=e.refine_margin, flip=e.flip, relocate=e.relocate,
                           relocate_context=e.relocate_context, flip_seg=e.flip_seg)

        return fn

    def build_evaluator(self, cfg: ExtractionConfig, model=None):
        from .evaluate import ExtractionEvaluator

        e = cfg.eval
        settings = {"threshold": e.threshold, "relocate": e.relocate, "relocate_context": e.relocate_context,
                    "refine": e.refine, "refine_margin": e.refine_margin, "flip_seg": e.flip_seg, "flip": e.flip}
        if e.images is not None:
            settings.update(images=str(e.images), masks=str(e.masks))
        else:
            settings.update(data=str(e.root), split=e.split, holdout=int(e.holdout or 0))
        if model is not None:
            settings["model"] = model.name
            settings.update(model.network.config())
        return ExtractionEvaluator(settings)

    def predictor(self, model, options: Optional[ExtractionPredictOptions] = None):
        from .inference import extract

        o = self.options_or_defaults(options)
        check(o)

        def fn(image):
            return extract(model.network, image, precision=o.precision, threshold=o.threshold, refine=o.refine,
                           refine_margin=o.refine_margin, flip=o.flip, relocate=o.relocate,
                           relocate_context=o.relocate_context, flip_seg=o.flip_seg)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options: Optional[ExtractionPredictOptions] = None) -> List[Path]:
        from .writer import write_result

        o = self.options_or_defaults(options)
        return write_result(result, image, out_dir, name, source=source, prob=o.prob)

    def to_json(self, result, image) -> Dict[str, Any]:
        """``box`` (x1, y1, x2, y2 in pixels), ``score``, ``area`` (the mask's fraction of the image) and, where the
        result has it, ``loc_box`` (the localizer's box before refinement)."""
        import numpy as np

        rec = {"box": [round(float(v), 2) for v in result["box"]], "score": round(float(result["score"]), 5),
               "area": round(float(np.asarray(result["mask"], bool).mean()), 5)}
        if "loc_box" in result:
            rec["loc_box"] = [round(float(v), 2) for v in result["loc_box"]]
        return rec

    def describe(self, result) -> str:
        x1, y1, x2, y2 = result["box"]
        return (f"box {x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}, score {result['score']:.2f}, object "
                f"{100.0 * float(result['mask'].mean()):.1f} % of the image")

    # ------------------------------------------------------------------------------------------- scoring
    def score(self, options: ExtractionScoreOptions):
        """Scores ``<name>_extraction_mask.png`` (J, P) and ``<name>_extraction_prob.png`` (MAE, max F; the mask
        when there is no probability file) of ``--pred`` against the masks; images without a readable mask file are
        failures."""
        import numpy as np

        from ..data.segfolder import read_labels
        from .evaluate import EvalDataset, ExtractionEvaluator

        cfg = ExtractionConfig()
        e = cfg.eval
        if options.images is not None or options.masks is not None:
            e.images, e.masks = options.images, options.masks
        if options.data is not None:
            e.root = options.data
        if options.split is not None:
            e.split = options.split
        if options.holdout is not None:
            e.holdout = options.holdout
        pred = Path(options.pred)
        if not pred.is_dir():
            raise UserError(f"prediction folder not found: {pred}")
        ds = EvalDataset(e)
        ev = ExtractionEvaluator({"pred": str(pred), **ds.source})
        failures, binary = [], 0
        for i in range(len(ds)):
            name = ds.records[i].name
            try:
                f = pred / f"{name}_extraction_mask.png"
                if not f.is_file():
                    raise UserError(f"{f}: no prediction file")
                mask = read_labels(f, "figure-ground").astype(bool)
                gt = ds.load_gt(i, mask.shape)
                pf = pred / f"{name}_extraction_prob.png"
                if pf.is_file():
                    import cv2

                    map8 = cv2.imread(str(pf), cv2.IMREAD_GRAYSCALE)
                    if map8 is None or map8.shape != mask.shape:
                        raise UserError(f"{pf}: not an 8-bit map of the mask's size")
                else:
                    map8 = mask.astype(np.uint8) * 255
                    binary += 1
                ev.process({"gt": gt, "name": name}, {"map8": map8, "mask": mask})
            except UserError as err:
                failures.append((name, str(err)))
        ev.settings["maps_from_masks"] = binary
        return ev.summarize(), ev, failures


TASK = ExtractionTask()
