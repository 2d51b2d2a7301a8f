"""The hypercolumn tables of docs/hypercolumn.md from the committed eval JSONs (benchmarks/results/hypercolumn_*.json, written by
`structnet eval hypercolumn --json`, or `structnet score hypercolumn --json` after `predict`).

    python benchmarks/report_hypercolumn.py            # prints the tables
    python benchmarks/report_hypercolumn.py --write    # rewrites the marked ones in docs/hypercolumn.md (_docblocks.py)
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

PARTS = [("hypercolumn (`parts_pascal_cpu`, bundled `hypercolumn_parts_pascal`)", "hypercolumn_parts_pascal_test.json"),
         ("top layer only (`parts_pascal_cpu_top`)", "hypercolumn_parts_pascal_test_top.json"),
         ("hypercolumn, `predict` then `score`", "hypercolumn_parts_pascal_test_score.json")]
FG = [("hypercolumn (`figure_ground_duts_cpu`, bundled `hypercolumn_figure_ground_duts`)", "hypercolumn_fg"),
      ("top layer only (`figure_ground_duts_cpu_top`)", "hypercolumn_fg_top"),
      ("hypercolumn, 1 x 1 grid (`figure_ground_duts_cpu_k1`)", "hypercolumn_fg_k1"),
      ("hypercolumn, 2 x 2 grid (`figure_ground_duts_cpu_k2`)", "hypercolumn_fg_k2"),
      ("hypercolumn, 10 x 10 grid (`figure_ground_duts_cpu_k10`)", "hypercolumn_fg_k10"),
      ("hypercolumn without the finest tap, stride 4 (`figure_ground_duts_cpu_no_stage2`)",
       "hypercolumn_fg_no_stage2")]
KP = [("hypercolumn (`keypoints_lsp_cpu`, bundled `hypercolumn_keypoints_lsp`), GT joint box + 10 %",
       "hypercolumn_keypoints_lspet_val.json")]


def _load(name: str):
    p = RESULTS / name
    return json.loads(p.read_text()) if p.is_file() else None


def print_all() -> None:
    print("| model | mIoU | " + " | ".join(["bg", "head", "torso", "u-arm", "l-arm", "u-leg", "l-leg"])
          + " | pixel acc. | images |")
    print("|---|---|" + "---|" * 7 + "---|---|")
    for label, f in PARTS:
        r = _load(f)
        if r is None:
            continue
        iou = " | ".join("-" if v is None else f"{100 * v:.1f}" for v in r["iou"].values())
        print(f"| {label} | **{100 * r['miou']:.1f}** | {iou} | {100 * r['pixel_accuracy']:.1f} | {r['n']} |")
    print("| DeepLab-LargeFOV VGG16 (published; full test set, full resolution) | 51.8 | | | | | | | | | 1817 |")
    print()
    print("| model | ECSSD test, GT boxes: mean IoU | pixel acc. | Weizmann horses test, GT boxes: mean IoU | "
          "pixel acc. |")
    print("|---|---|---|---|---|")
    for label, stem in FG:
        a, b = _load(f"{stem}_ecssd.json"), _load(f"{stem}_horses.json")
        if a is None:
            continue
        cells = [f"**{100 * a['mean_iou']:.1f}**", f"{100 * a['pixel_accuracy']:.1f}"]
        cells += ([f"{100 * b['mean_iou']:.1f}", f"{100 * b['pixel_accuracy']:.1f}"] if b else ["-", "-"])
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    names = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"]
    print("| model, person box | " + " | ".join(names) + " | **PCK@0.2** |")
    print("|---|" + "---|" * len(names) + "---|")
    for label, f in KP:
        r = _load(f)
        if r is None:
            continue
        pj = r["per_joint"]

        def pair(*js):
            v = [pj[j] for j in js if pj.get(j) is not None]
            return f"{100 * sum(v) / len(v):.1f}" if v else "-"

        cells = [pair("head_top", "neck"), pair("left_shoulder", "right_shoulder"), pair("left_elbow", "right_elbow"),
                 pair("left_wrist", "right_wrist"), pair("left_hip", "right_hip"), pair("left_knee", "right_knee"),
                 pair("left_ankle", "right_ankle")]
        print(f"| {label} | " + " | ".join(cells) + f" | **{100 * r['pck']:.1f}** |")
    print("| pose2d bundled encoder, annotated window (README, 2D pose results) | 81.6 | 70.2 | 65.9 | 65.3 | 53.7 | "
          "55.9 | 56.4 | **64.1** |")


def blocks():
    import _docblocks

    return _docblocks.printed_blocks(print_all)


def main(argv=None) -> int:
    import _docblocks

    return _docblocks.main("report_hypercolumn.py", "docs/hypercolumn.md", blocks, argv)


if __name__ == "__main__":
    raise SystemExit(main())
