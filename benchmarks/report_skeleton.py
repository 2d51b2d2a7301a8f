"""Markdown tables of docs/skeleton.md from the committed skeleton benchmark results.

    python benchmarks/report_skeleton.py            # prints the tables
    python benchmarks/report_skeleton.py --write    # rewrites the marked ones in docs/skeleton.md (_docblocks.py)

Reads benchmarks/results/skeleton_{sk-large,weizmann-horse}.json (benchmarks/eval_skeleton.py),
skeleton_sk-large_lmsds_{float32,bfloat16}.json (the LMSDS model with each inference precision), skeleton_speed.json
(bench_skeleton_speed.py) and skeleton_eval_speed.json (bench_skeleton_eval.py). Missing files are skipped.
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = ("HED", "FSDS", "LMSDS")


def _load(name: str):
    p = RESULTS / name
    return json.loads(p.read_text()) if p.is_file() else None


def _f(x, nd=3):
    return "-" if x is None or x != x else f"{x:.{nd}f}"


def accuracy_table() -> str:
    rows = ["| method (EfficientNet-Lite0, CPU budget) | SK-LARGE ODS F | OIS F | AP | paper ODS F (VGG16) "
            "| WH-SYMMAX ODS F | OIS F | AP | paper ODS F (VGG16) |", "|---|---|---|---|---|---|---|---|---|"]
    sk, wh = _load("skeleton_sk-large.json"), _load("skeleton_weizmann-horse.json")
    for lab in LABELS:
        cells = [lab]
        for rep in (sk, wh):
            m = (rep or {}).get("models", {}).get(lab, {})
            paper = (rep or {}).get("paper_ods_f", {}).get(lab)
            cells += [_f(m.get("ods_f")), _f(m.get("ois_f")), _f(m.get("ap")), _f(paper)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def budget_table() -> str:
    rows = ["| model | data | iterations (batch 1) | training wall time | test inference + evaluation |",
            "|---|---|---|---|---|"]
    for name, data in (("skeleton_sk-large.json", "SK-LARGE train (746)"),
                       ("skeleton_weizmann-horse.json", "WH-SYMMAX train (228), from the SK-LARGE model")):
        rep = _load(name)
        for lab in LABELS:
            m = (rep or {}).get("models", {}).get(lab)
            if not m:
                continue
            rows.append(f"| {lab} | {data} | {m['train'].get('iters')} | {m['train_seconds'] / 60:.1f} min | "
                        f"{m.get('predict_seconds', 0):.0f} s + {m.get('eval_seconds', 0):.0f} s "
                        f"({rep['n_images']} images) |")
    return "\n".join(rows)


def segments_table() -> str:
    """The horse-fine-tuned FSDS / LMSDS (skeleton_weizmann-horse.json), then the bundled LMSDS through the CLI
    (cli_eval_skeleton_weizmann-horse_segments.json: one segment per piece, and objects, its default)."""
    wh = _load("skeleton_weizmann-horse.json")
    rows = ["| method | F-measure | Covering (%) | segments / image | paper F | paper Covering (%) | paper segments |",
            "|---|---|---|---|---|---|---|"]

    def row(label, s, p, bold=False):
        cells = [_f(s.get("f_measure")), _f(s.get("covering"), 1), _f(s.get("mean_segments"), 2)]
        cells = [f"**{c}**" for c in cells] if bold else cells
        return (f"| {label} | {' | '.join(cells)} | "
                f"{_f(p.get('f_measure'))} | {_f(p.get('covering'), 1)} | {_f(p.get('mean_segments'), 1)} |")

    for lab in ("FSDS", "LMSDS"):
        m = (wh or {}).get("models", {}).get(lab, {})
        rows.append(row(f"{lab}, fine-tuned on the horses, one segment per piece", m.get("segments", {}),
                        m.get("paper_segments", {})))
    cli = _load("cli_eval_skeleton_weizmann-horse_segments.json")
    if cli:
        paper = (wh or {}).get("models", {}).get("LMSDS", {}).get("paper_segments", {})
        rows.append(row("bundled LMSDS (SK-LARGE only), one segment per piece", cli["segments_by_piece"], paper))
        rows.append(row("bundled LMSDS (SK-LARGE only), objects (default)", cli["segments"], paper, bold=True))
    return "\n".join(rows)


def precision_line() -> str:
    f32, bf = _load("skeleton_sk-large_lmsds_float32.json"), _load("skeleton_sk-large_lmsds_bfloat16.json")
    if not f32 or not bf:
        return ""
    a, b = f32["models"]["LMSDS"], bf["models"]["LMSDS"]
    return (f"LMSDS run 1 (the earlier bundle) on SK-LARGE test (745 images): float32 ODS F {a['ods_f']:.4f}, OIS {a['ois_f']:.4f}, AP {a['ap']:.4f}; "
            f"bfloat16 (channels_last + autocast, forced) ODS F {b['ods_f']:.4f}, OIS {b['ois_f']:.4f}, AP {b['ap']:.4f}: "
            f"ODS difference {abs(a['ods_f'] - b['ods_f']):.4f} (prediction {a['predict_seconds']:.0f} s vs "
            f"{b['predict_seconds']:.0f} s).")


def speed_table() -> str:
    sp = _load("skeleton_speed.json")
    if not sp:
        return ""
    rows = ["| measurement | float32 | bfloat16 (channels_last + autocast) | speed-up |", "|---|---|---|---|"]
    for k, v in sp["inference_ms_300x400"].items():
        rows.append(f"| inference {k}, ms / image at 300x400 | {v.get('float32_ms')} | {v.get('bfloat16_ms', '-')} | "
                    f"{v.get('bf16_speedup', '-')} |")
    tr = sp["train_images_per_s_320x240"]
    f32 = tr.get("lmsds_efficientnet_lite0_float32")
    bf = tr.get("lmsds_efficientnet_lite0_bfloat16")
    ratio = f"{bf / f32:.2f}" if (f32 and bf) else "-"
    rows.append(f"| training lmsds_efficientnet_lite0, images / s at 320x240 | {f32} | {bf if bf else '-'} | {ratio} |")
    ev = _load("skeleton_eval_speed.json")
    if ev:
        rows.append(f"| whole SK-LARGE test evaluation ({ev['n_images']} images, {ev['thresholds']} thresholds, GT "
                    f"blurred as the prediction: an easy case), s | {ev['fast_seconds']:.0f} (straightforward port: "
                    f"{ev['reference_seconds_full_set']:.0f}, identical numbers: {ev['identical']}; before the "
                    f"bit-sliced thinning) | | {ev['speedup']:.2f} |")
    return "\n".join(rows)


def blocks():
    return [(title, fn()) for title, fn in (("accuracy", accuracy_table), ("budget", budget_table),
                                            ("segments", segments_table), ("precision", precision_line),
                                            ("speed", speed_table))]


def main(argv=None) -> int:
    import _docblocks

    return _docblocks.main("report_skeleton.py", "docs/skeleton.md", blocks, argv)


if __name__ == "__main__":
    raise SystemExit(main())
