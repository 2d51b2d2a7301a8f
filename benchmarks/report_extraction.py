"""The tables of docs/extraction.md, from the committed JSON results in benchmarks/results/.

    python benchmarks/report_extraction.py            # prints the tables
    python benchmarks/report_extraction.py --write    # rewrites the marked ones in docs/extraction.md (_docblocks.py)
"""
from __future__ import annotations

import json
from pathlib import Path

R = Path(__file__).resolve().parent / "results"

RUNS = [("joint, 600 + 300 + 2000 + 1500 steps (`joint_duts_cpu` + `_ft` + `_aug` + `_aug2`), bundled "
         "`extraction_joint_duts`", "bundle"),
        ("separate, 600 + 300 + 2000 + 1500 steps (`separate_duts_cpu` + `_ft` + `_aug` + `_aug2`)",
         "separate_duts_cpu_aug2"),
        ("joint, 600 + 300 + 2000 steps (`joint_duts_cpu` + `_ft` + `_aug`)", "joint_duts_cpu_aug"),
        ("separate, 600 + 300 + 2000 steps (`separate_duts_cpu` + `_ft` + `_aug`)", "separate_duts_cpu_aug"),
        ("joint, 600 + 300 steps (`joint_duts_cpu` + `joint_duts_cpu_ft`), the previous bundle (float16)",
         "joint_duts_cpu_ft"),
        ("separate, 600 + 300 steps (`separate_duts_cpu` + `separate_duts_cpu_ft`)", "separate_duts_cpu_ft"),
        ("joint, 600 steps (`joint_duts_cpu`)", "joint_duts_cpu"),
        ("separate, 600 steps (`separate_duts_cpu`)", "separate_duts_cpu")]
#: file suffixes, in the order the rows are printed
INFERENCE = ("", "_flip", "_onepass")


def _how(d) -> str:
    """How the images went through the model, from the JSON's settings (files written before the relocation pass
    and the mirrored masks existed have no ``relocate`` / ``flip_seg`` key: they had neither)."""
    st = d.get("settings", {})
    rel, ref = int(st.get("relocate", 0)), int(st.get("refine", 0))
    seg = bool(st.get("flip_seg", False)) and not st.get("flip")
    if rel == 0 and ref == 0 and not st.get("flip") and not seg:
        return "the paper's single pass (`--relocate 0 --refine 0 --no-flip-seg`)"
    parts = [f"{rel} relocation pass" if rel else "no relocation", f"{ref} refinement pass" if ref else "no refinement"]
    if seg:
        parts.append("mirrored masks")
    if st.get("flip"):
        parts.append("mirroring (`--flip`)")
    return ", ".join(parts)


def _load(name: str):
    f = R / name
    return json.loads(f.read_text()) if f.is_file() else None


def _row(label: str, d) -> str:
    if d is None:
        return f"| {label} | not measured | | | | |"
    return (f"| {label} | **{100 * d['j']:.1f}** | {100 * d['p']:.1f} | {d['mae']:.3f} | {d['max_f']:.3f} | "
            f"{d['n_images']} |")


def print_all() -> None:
    for data, title in (("ecssd", "ECSSD (1000 images, test)"), ("horses", "Weizmann horses test (100 images)"),
                        ("duts_val", "DUTS-TR-2k held-out ids (200 images, validation)")):
        print(f"\n{title}\n")
        print("| model | J | P | MAE | max F | images |")
        print("|---|---|---|---|---|---|")
        for suffix in INFERENCE:
            for label, key in RUNS:
                d = _load(f"extraction_{key}_{data}{suffix}.json")
                if d is not None:
                    print(_row(f"{label}, {_how(d)}", d))
        if data == "ecssd":
            print("| paper, joint \"Ours(full)\" (Saliency dataset, 2000 test images; not ECSSD) | 87.0 | 97.8 | | | "
                  "2000 |")
            print("| paper, separate \"Ours(sim)\" (same) | 81.1 | 96.6 | | | 2000 |")
    e = _load("extraction_estep_mcmc_vs_exhaustive.json")
    if e:
        print("\nE-step, MCMC vs exhaustive, fixed trained nets\n")
        print("| E-step | J of the picked reference | joint cost | candidates / image | s / image | images |")
        print("|---|---|---|---|---|---|")
        for m, label in (("exhaustive", "exhaustive (625)"), ("mcmc", f"MCMC, K = {e['moves']}"),
                         ("zero", "no adjustment (dL = 0)")):
            ev = e["evaluated_per_image"].get(m, 0)
            sec = e["seconds_per_image"].get(m)
            print(f"| {label} | {100 * e['j'][m]:.1f} | {e['cost'][m]:.1f} | {ev:.1f} | "
                  f"{'' if sec is None else f'{sec:.3f}'} | {e['n_images']} |")
        print(f"\nMCMC found the exhaustive optimum on {100 * e['mcmc_found_optimum']:.0f} % of the images; "
              f"exhaustive / MCMC time: {e['cost_ratio_exhaustive_over_mcmc']:.1f} x")
    t = _load("extraction_tiny_joint.json")
    if t:
        print(f"\nWhole trainings at small scale (seeds {t['seeds']}, means)\n")
        print("| training | J (120 images) | J (24 test images) | P | train s | E-step s |")
        print("|---|---|---|---|---|---|")
        for m, label in (("none", "separate (dL = 0)"), ("mcmc", "joint, MCMC E-step"),
                         ("exhaustive", "joint, exhaustive E-step")):
            s = t["summary"][m]
            print(f"| {label} | **{100 * s['j']:.1f}** | {100 * s['j_test']:.1f} | {100 * s['p']:.1f} | "
                  f"{s['train_seconds']:.0f} | {s['estep_seconds']:.0f} |")
    sp = _load("extraction_speed.json")
    if sp:
        print(f"\nSpeed: {sp['ms_per_image']:.1f} ms per image ({sp['threads']} threads, {sp['precision']}, "
              f"median of {sp['repeats']} passes over {sp['n_images']} ECSSD images)")


def blocks():
    import _docblocks

    return _docblocks.printed_blocks(print_all)


def main(argv=None) -> int:
    import _docblocks

    return _docblocks.main("report_extraction.py", "docs/extraction.md", blocks, argv)


if __name__ == "__main__":
    raise SystemExit(main())
