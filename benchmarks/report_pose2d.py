"""Markdown tables of docs/pose2d.md from the committed 2D pose benchmark results.

    python benchmarks/report_pose2d.py            # prints the tables
    python benchmarks/report_pose2d.py --write    # rewrites the marked ones in docs/pose2d.md (_docblocks.py)

Reads benchmarks/results/pose2d_enc_ladder_<rung>_s<seed>{,_auto}.json (train_pose2d_encoder_ladder.sh: the
ladder on the pretrained encoder, several seeds per rung), benchmarks/results/pose2d_ladder_<rung>.json ('structnet eval pose2d --json' of each ladder rung),
benchmarks/logs/train_pose2d_<rung>.log (the wall time printed by /usr/bin/time -v), pose2d_efficiency.json
(bench_pose2d_efficiency.py) and pose2d_speed.json (bench_pose2d_speed.py). Missing files are skipped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS, LOGS = BENCH / "results", BENCH / "logs"
#: rung -> (label, paper PCKh@0.5 on MPII val, Sec. 4.3)
RUNGS = {"1_hourglass": ("hourglass (Newell et al.)", 87.1), "2_mss": ("+ MSS", 87.6), "3_msr": ("+ MSR", 88.1),
         "4_struct": ("+ structure-aware loss", 88.3), "5_masking": ("+ keypoint masking", 88.4)}
COLS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")


def _load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def _f(x, nd=1):
    return "-" if x is None or x != x else f"{x:.{nd}f}"


def _wall_minutes(rung: str):
    """Wall-clock minutes of benchmarks/logs/train_pose2d_<rung>.log (written under /usr/bin/time -v), or None."""
    log = LOGS / f"train_pose2d_{rung}.log"
    if not log.is_file():
        return None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", log.read_text())
    if not m:
        return None
    h, mi, s = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
    return h * 60 + mi + s / 60


def ladder_table() -> str:
    rows = ["| rung | " + " | ".join(COLS) + " | PCK@0.2 mean | AUC | training wall time | paper PCKh@0.5 (MPII val) |",
            "|---|" + "---|" * (len(COLS) + 4)]
    for rung, (label, paper) in RUNGS.items():
        r = _load(RESULTS / f"pose2d_ladder_{rung}.json")
        if r is None:
            rows.append(f"| {label} | " + " | ".join("-" for _ in COLS) + f" | not run | - | - | {paper} |")
            continue
        wall = _wall_minutes(rung)
        rows.append(f"| {label} | " + " | ".join(_f(r["table"].get(c)) for c in COLS) +
                    f" | **{_f(100 * r['mean'])}** | {_f(100 * r['auc'])} | "
                    f"{'-' if wall is None else f'{wall:.0f} min'} | {paper} |")
    return "\n".join(rows)


ENC_RUNGS = {"1_plain": ("encoder + one full-resolution head", 87.1), "2_mss": ("+ MSS", 87.6),
             "3_msr": ("+ MSR", 88.1), "4_struct": ("+ structure-aware loss", 88.3),
             "5_masking": ("+ keypoint masking", 88.4)}


ENC_LABELS = {"1_plain": "encoder + one full-resolution head", "2_mss": "+ MSS (heads at 24, 12, 6)",
              "3_msr": "+ MSR-net", "4_struct": "+ structure-aware loss (alpha 0.5)",
              "5_masking": "+ keypoint masking"}


def encoder_ladder_table() -> str:
    """Per rung: mean +- half range over the seeds and each seed's PCK@0.2, on annotated windows and whole images
    (the best rung's means in bold), beside the paper's MPII number. The wall times are in the logs."""
    runs = {}
    for rung in ENC_RUNGS:
        ann, auto = {}, {}
        for f in sorted(RESULTS.glob(f"pose2d_enc_ladder_{rung}_s*.json")):
            m = re.fullmatch(rf"pose2d_enc_ladder_{rung}_s(\d+)(_auto)?\.json", f.name)
            if m:
                (auto if m.group(2) else ann)[int(m.group(1))] = _load(f)["mean"]
        runs[rung] = (ann, auto)
    if not any(a or b for a, b in runs.values()):
        return ""

    def mean(d):
        return sum(d.values()) / len(d) if d else float("-inf")

    best = [max(runs, key=lambda r: mean(runs[r][i])) for i in (0, 1)]

    def spread(d, bold):
        if not d:
            return "-"
        v = list(d.values())
        s = f"{100 * sum(v) / len(v):.1f} +- {50 * (max(v) - min(v)):.1f}"
        return f"**{s}**" if bold else s

    def per_seed(d):
        return ", ".join(f"{100 * v:.1f}" for _, v in sorted(d.items())) or "-"

    rows = ["| rung (EfficientNet-Lite0 encoder) | PCK@0.2 annotated windows | per seed | PCK@0.2 whole images (auto) | "
            "per seed | paper PCKh@0.5 (MPII val) |", "|---|---|---|---|---|---|"]
    for rung, (ann, auto) in runs.items():
        rows.append(f"| {ENC_LABELS[rung]} | {spread(ann, rung == best[0])} | {per_seed(ann)} | "
                    f"{spread(auto, rung == best[1])} | {per_seed(auto)} | {ENC_RUNGS[rung][1]} |")
    return "\n".join(rows)


def efficiency_table() -> str:
    r = _load(RESULTS / "pose2d_efficiency.json")
    if r is None:
        return ""
    rows = ["| test setting (flip test on) | PCK@0.2 | AUC | ms / person | time vs 6 scales | paper PCKh@0.5 (MPII val) |",
            "|---|---|---|---|---|---|"]
    for k, v in r["settings"].items():
        rows.append(f"| {k} | {_f(100 * v['pck'])} | {_f(100 * v['auc'])} | {v['ms_per_person']:.0f} | "
                    f"{v['time_vs_6_scales']:.2f}x | {r['paper_mpii_val_pckh'].get(k, '-')} |")
    return "\n".join(rows)


def speed_table() -> str:
    r = _load(RESULTS / "pose2d_speed.json")
    if r is None:
        return ""
    rows = [f"| model (MSS + MSR) | parameters | inference ms / person | with flip test | training images / s "
            f"(batch {r['settings']['batch']}) |", "|---|---|---|---|---|"]
    for k, v in r["models"].items():
        rows.append(f"| {k} | {v['params_M']:.1f} M | {v['inference_ms']:.0f} | {v['inference_flip_ms']:.0f} | "
                    f"{v['train_images_per_s']:.2f} |")
    return "\n".join(rows)


def campaign_table() -> str:
    r = _load(RESULTS / "pose2d_campaign.json")
    if r is None:
        return ""
    rows = ["| stage | data | steps x batch | minutes | val PCK@0.2 whole images: predict's default window | "
            "`--person-model none` | annotated windows |", "|---|---|---|---|---|---|---|"]

    def pct(v):
        return "-" if v is None else f"{_f(100 * v)} %"

    for st in r["stages"]:
        ep = f" ({st['epochs']:.1f} epochs)" if st.get("epochs") else ""
        rows.append(f"| {st['stage']} | {st['data']} | {st['steps']} x {st['batch']}{ep} | {st['minutes']} | "
                    f"{pct(st.get('val_pck_auto'))} | {pct(st.get('val_pck_auto_no_person_model'))} | "
                    f"{pct(st.get('val_pck_annotation'))} |")
    rows.append(f"| **total of the bundle** | | | {r['budget_minutes_total']} | | | |")
    if r.get("campaign_minutes_total"):
        rows.append(f"| **campaign total** (with stages not kept) | | | {r['campaign_minutes_total']} | | | |")
    return "\n".join(rows)


def person_window_table() -> str:
    r = _load(RESULTS / "pose2d_person_window_tuning.json")
    if r is None:
        return ""
    iou = r["person_box_iou"]
    rows = [f"Person model `{r['person']}`, pose model `{r['model']}`, first {r['n_persons']} LSPET val persons: "
            f"person box IoU {iou['mean']:.3f} (IoU >= 0.5: {_f(100 * iou['iou50'])} %).", "",
            "| person window | PCK@0.2 % |", "|---|---|"]
    for k, v in sorted(r["pck@0.2"].items(), key=lambda kv: -kv[1]):
        rows.append(f"| {k} | {_f(100 * v)} |")
    return "\n".join(rows)


def visibility_table() -> str:
    r = _load(RESULTS / "pose2d_visibility.json")
    if r is None:
        return ""
    n = r["n_persons"] - r["n_persons"] // 2
    rows = [f"Model `{r['model']}`; calibration fitted on the first half of LSPET val, flags measured on the other "
            f"{n} persons (as `predict` runs them).", "",
            "| flag | joints | visible: precision | recall | absent: precision | recall |", "|---|---|---|---|---|---|"]
    t = r["fit_on_first_half"].get("threshold", 0.5)
    for label, key in ((f"calibrated (p >= {t:.2f}), all joints", "second_half"),
                       (f"calibrated (p >= {t:.2f}), hips / knees / ankles", "second_half_legs"),
                       ("uncalibrated score >= 0.2, all joints", "second_half_uncalibrated_score_0.2")):
        m = r[key]
        rows.append(f"| {label} | {m['n_visible']} visible, {m['n_absent']} absent | {_f(100 * m['precision'])} | "
                    f"{_f(100 * m['recall'])} | {_f(100 * m['absent_precision'])} | {_f(100 * m['absent_recall'])} |")
    return "\n".join(rows)


def throughput_table() -> str:
    r = _load(RESULTS / "pose2d_train_throughput.json")
    if r is None:
        return ""
    rows = [f"| encoder @ input | s / step of {r['batch']} (one thread) | vs Lite0 @ 192 | parameters |",
            "|---|---|---|---|"]
    for k, v in r["variants"].items():
        rows.append(f"| {k.replace('efficientnet_', '')} | {v['s_per_step']:.2f} | {v['ratio_to_first']:.2f}x | "
                    f"{v['params_m']:.2f} M |")
    return "\n".join(rows)


def blocks():
    return [("ladder", ladder_table()), ("encoder ladder", encoder_ladder_table()),
            ("efficiency", efficiency_table()), ("speed", speed_table()), ("campaign", campaign_table()),
            ("person window", person_window_table()), ("visibility", visibility_table()),
            ("train throughput", throughput_table())]


def main(argv=None) -> int:
    import _docblocks

    return _docblocks.main("report_pose2d.py", "docs/pose2d.md", blocks, argv)


if __name__ == "__main__":
    raise SystemExit(main())
