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
from typing import Any, Dict, List, Optional

from ..errors import UserError
from ..tasks.base import Task
from .config import ExtractionConfig

__all__ = ["ExtractionTask", "TASK"]


def _refine_arguments(p, default) -> None:
    p.add_argument("--refine", type=int, default=None,
                   help="passes that re-segment the tight box of the mask widened by --refine-margin (default 1, "
                        "chosen on DUTS-TR-2k val; 0 = the paper's single pass)")
    p.add_argument("--refine-margin", type=float, default=None,
                   help="the widening in units of 1/224 of the image side (default 6)")
    p.add_argument("--relocate", type=int, default=None,
                   help="passes of the localization net on the window of its own box (default 1, chosen on "
                        "DUTS-TR-2k val; 0 = the paper's single look)")
    p.add_argument("--relocate-context", type=float, default=None,
                   help="that window: the box widened by this fraction of its size on each side (default 0.08)")
    p.add_argument("--flip", action="store_true",
                   help="test-time mirroring: box and mask averaged with the mirrored image's (2x the time)")
    p.add_argument("--no-flip-seg", action="store_true",
                   help="masks from the crop alone (default: averaged with the mirrored crop's; the paper: alone)")


def _check_refine(refine: int, margin: float) -> int:
    if refine < 0 or refine > 10:
        raise UserError(f"--refine must be in 0..10, got {refine}")
    if not 0 <= margin <= 112:
        raise UserError(f"--refine-margin must be in 0..112 units, got {margin}")
    return int(refine)


def _check_relocate(relocate: int, context: float) -> int:
    if relocate < 0 or relocate > 10:
        raise UserError(f"--relocate must be in 0..10, got {relocate}")
    if not 0 <= context <= 2:
        raise UserError(f"--relocate-context must be in 0..2 (a fraction of the box's size), got {context}")
    return int(relocate)


class ExtractionTask(Task):
    name = "extraction"
    summary = ("salient object box + mask: a localization net and a segmentation net trained jointly with latent "
               "box adjustments (EM + MCMC)")
    config_class = ExtractionConfig
    default_model = "extraction_joint_duts"
    default_eval_config = None
    outputs = ("<name>_extraction_mask.png, <name>_extraction_overlay.png and <name>_extraction.json (box, score) "
               "per image; --prob: <name>_extraction_prob.png")
    output_suffixes = ("_extraction_mask.png", "_extraction_overlay.png", "_extraction.json", "_extraction_prob.png")

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

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_j" in meta:
            return f"ECSSD whole images: J {float(meta['test_j']):.3f}, P {float(meta.get('test_p', 0)):.3f}"
        return ""

    # -------------------------------------------------------------------------------------------- training
    def build_train_dataset(self, cfg: ExtractionConfig):
        from .data import ExtractionDataset

        return ExtractionDataset(cfg, seed=cfg.train.seed)

    def build_loss(self, cfg: ExtractionConfig):
        from .train import JointLoss

        loss = JointLoss(cfg)
        self._losses = getattr(self, "_losses", {})
        self._losses[id(cfg)] = loss
        return loss

    def train_hooks(self, cfg: ExtractionConfig):
        from .train import LatentHook

        loss = getattr(self, "_losses", {}).pop(id(cfg), None)
        if loss is None:
            return []
        return [LatentHook(loss, cfg.train.out_dir, cfg.train.checkpoint_every, cfg.train.log_every)]

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg: ExtractionConfig, max_images: Optional[int] = None):
        from .evaluate import EvalDataset

        return EvalDataset(cfg.eval, max_images)

    def eval_predictor(self, model, cfg: ExtractionConfig):
        from .inference import extract

        e = cfg.eval

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

    def add_eval_arguments(self, p) -> None:
        p.add_argument("--images", default=None, help="folder of images (with --masks: <image stem>.png each)")
        p.add_argument("--masks", default=None, help="folder of ground-truth masks (> 127 = object)")
        p.add_argument("--data", default=None, help="folder with images/, masks/ and <split>.txt (= --root; "
                                                    "default ECSSD test)")
        p.add_argument("--holdout", type=int, default=None,
                       help="only every N-th id of the split: the validation ids that data.holdout = N leaves out "
                            "of training")
        p.add_argument("--threshold", type=float, default=None, help="foreground where the probability > this "
                                                                     "(default 0.5, the paper's)")
        _refine_arguments(p, None)

    def apply_eval_arguments(self, cfg: ExtractionConfig, args) -> None:
        e = cfg.eval
        if getattr(args, "images", None) is not None:
            e.images = args.images
        if getattr(args, "masks", None) is not None:
            e.masks = args.masks
        if getattr(args, "data", None) is not None:
            e.root = args.data
        if getattr(args, "holdout", None) is not None:
            e.holdout = args.holdout
        if getattr(args, "threshold", None) is not None:
            if not 0.0 < args.threshold < 1.0:
                raise UserError(f"--threshold must be in (0, 1), got {args.threshold}")
            e.threshold = args.threshold
        if getattr(args, "refine", None) is not None:
            e.refine = _check_refine(args.refine, getattr(args, "refine_margin", None) or e.refine_margin)
        if getattr(args, "refine_margin", None) is not None:
            e.refine_margin = float(args.refine_margin)
        if getattr(args, "relocate_context", None) is not None:
            e.relocate_context = float(args.relocate_context)
        if getattr(args, "relocate", None) is not None:
            e.relocate = args.relocate
        _check_relocate(e.relocate, e.relocate_context)
        if getattr(args, "flip", False):
            e.flip = True
        if getattr(args, "no_flip_seg", False):
            e.flip_seg = False

    # ------------------------------------------------------------------------------------------ prediction
    def add_predict_arguments(self, p) -> None:
        p.add_argument("--prob", action="store_true", help="also write <name>_extraction_prob.png (8-bit probability)")
        p.add_argument("--threshold", type=float, default=0.5, help="foreground where the probability > this")
        _refine_arguments(p, "default")

    def predictor(self, model, options):
        from .inference import extract

        thr = float(getattr(options, "threshold", 0.5) or 0.5)
        if not 0.0 < thr < 1.0:
            raise UserError(f"--threshold must be in (0, 1), got {thr}")
        precision = getattr(options, "precision", None) or "auto"
        self._write_prob = bool(getattr(options, "prob", False))
        from .inference import REFINE, REFINE_MARGIN

        margin = getattr(options, "refine_margin", None)
        margin = REFINE_MARGIN if margin is None else float(margin)
        refine = getattr(options, "refine", None)
        refine = _check_refine(REFINE if refine is None else refine, margin)
        flip = bool(getattr(options, "flip", False))
        from .inference import RELOCATE, RELOCATE_CONTEXT

        context = getattr(options, "relocate_context", None)
        context = RELOCATE_CONTEXT if context is None else float(context)
        relocate = getattr(options, "relocate", None)
        relocate = _check_relocate(RELOCATE if relocate is None else relocate, context)

        flip_seg = not bool(getattr(options, "no_flip_seg", False))

        def fn(image):
            return extract(model.network, image, precision=precision, threshold=thr, refine=refine,
                           refine_margin=margin, flip=flip, relocate=relocate, relocate_context=context,
                           flip_seg=flip_seg)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name, source=source, prob=getattr(self, "_write_prob", False))

    def describe(self, result) -> str:
        x1, y1, x2, y2 = result["box"]
        return (f"box {x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}, score {result['score']:.2f}, object "
                f"{100.0 * float(result['mask'].mean()):.1f} % of the image")

    # ------------------------------------------------------------------------------------------- scoring
    def add_score_arguments(self, p) -> None:
        p.add_argument("--pred", required=True, help="folder of the files 'structnet predict extraction' wrote")
        p.add_argument("--images", default=None, help="folder of the images predicted (with --masks)")
        p.add_argument("--masks", default=None, help="folder of ground-truth masks named <image stem>.png")
        p.add_argument("--data", default=None, help="or: folder with images/, masks/ and <split>.txt (default "
                                                    "ECSSD test)")
        p.add_argument("--split", default=None, help="split file name (default test)")
        p.add_argument("--holdout", type=int, default=None, help="only every N-th id of the split")

    def score(self, args):
        """Scores ``<name>_extraction_mask.png`` (J, P) and ``<name>_extraction_prob.png`` (MAE, max F; the mask
        when there is no probability file) of ``--pred`` against the masks; images without a readable mask file are
        failures."""
        import numpy as np

        from ..data.segfolder import read_labels
        from .evaluate import EvalDataset, ExtractionEvaluator

        cfg = ExtractionConfig()
        e = cfg.eval
        if args.images is not None or args.masks is not None:
            e.images, e.masks = args.images, args.masks
        if args.data is not None:
            e.root = args.data
        if args.split is not None:
            e.split = args.split
        if args.holdout is not None:
            e.holdout = args.holdout
        pred = Path(args.pred)
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
