"""Subcommands of the skeleton task (the contract other tools call; see README)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_train_parser(sub) -> None:
    p = sub.add_parser("skeleton", help="train HED / FSDS / LMSDS",
                       description="Train a skeleton model. Overrides are dotted keys, e.g. optim.lr=1e-4 train.max_iters=100")
    p.add_argument("--config", required=True, help="YAML file (configs/skeleton/*.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if out_dir has a checkpoint")
    p.set_defaults(func=_train)


def add_eval_parser(sub) -> None:
    p = sub.add_parser("skeleton", help="skeleton evaluation with the published protocol (skeval)",
                       description="Evaluate predicted skeleton maps against ground truth (ODS/OIS F, AP).")
    p.add_argument("--pred", required=True, help="folder of 8-bit PNG maps named like the GT stems (a _skeleton suffix is accepted)")
    p.add_argument("--gt", required=True, help="folder of GT: PNG scale maps, binary skeleton PNGs or .mat files")
    p.add_argument("--tolerance", type=float, default=0.01, help="match distance as a fraction of the image diagonal (default 0.01)")
    p.add_argument("--thresholds", type=int, default=100, help="number of thresholds (default 100)")
    p.add_argument("--no-nms", action="store_true", help="skip non-maximum suppression (maps already thin)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.add_argument("--plot", default=None, help="write a PR-curve PNG here")
    p.set_defaults(func=_eval)


def add_predict_parser(sub) -> None:
    p = sub.add_parser("skeleton", help="skeleton + scale + segments for images",
                       description="Writes <stem>_skeleton.png, <stem>_overlay.png, <stem>_segments.png and <stem>.npz per image.")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--weights", default=None, help="safetensors file written by 'structnet train skeleton'")
    p.add_argument("--model", default=None, help="bundled model name (default lmsds_efficientnet_lite0)")
    p.add_argument("--max-side", type=int, default=None, help="run the network at this longer side (maps come back at input size)")
    p.add_argument("--threshold", type=float, default=None, help="binarisation threshold for thin skeletons and segments (default: the model's ODS threshold)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="auto = bfloat16 where the CPU/GPU runs it natively, else float32")
    p.set_defaults(func=_predict)


def _train(args) -> int:
    from ..engine.config import load_config
    from .config import SkeletonConfig
    from .train import train

    cfg = load_config(SkeletonConfig, args.config, args.overrides)
    weights = train(cfg, resume=not args.no_resume)
    print(f"weights: {weights}")
    return 0


def _eval(args) -> int:
    from .metrics import evaluate_dirs, plot_pr

    res, failures = evaluate_dirs(args.pred, args.gt, thresholds=args.thresholds, tolerance=args.tolerance,
                                  nms=not args.no_nms, workers=args.workers)
    d = res.to_dict()
    print(f"images: {d['n_images']}  ODS F: {d['ods_f']:.4f} (P {d['ods_p']:.4f}, R {d['ods_r']:.4f})  "
          f"OIS F: {d['ois_f']:.4f}  AP: {d['ap']:.4f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(d, indent=1))
    if args.plot:
        plot_pr({Path(args.pred).name: res}, args.plot)
    return _report(failures)


def _report(failures) -> int:
    if failures:
        print(f"{len(failures)} file(s) failed:", file=sys.stderr)
        for path, why in failures:
            print(f"  {path}: {why}", file=sys.stderr)
        return 1
    return 0


def _predict(args) -> int:
    from ..data.io import list_images, process_batch
    from .inference import load_skeleton_model, predict_file

    net = load_skeleton_model(args.weights, args.model)
    paths = list_images(args.inputs)
    out = Path(args.out)
    results, failures = process_batch(
        paths, lambda p: predict_file(net, Path(p), out, max_side=args.max_side, precision=args.precision,
                                      threshold=args.threshold))
    for r in results:
        print(f"{r['image']}: {r['skeleton_pixels']} skeleton px, {r['segments']} segment(s)")
    print(f"{len(results)} image(s) written to {out}")
    return _report(failures)
