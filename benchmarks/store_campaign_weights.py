"""Store the weights of one stage of a training campaign in the repository (float16 kernels, metadata kept), so that
the next stage continues from them (``model.init: <this file>``) in a later session.

    python benchmarks/store_campaign_weights.py runs/pose2d/encoder_lite0_lspet_extra_cpu_finetune/model.safetensors \
        benchmarks/weights/pose2d_lite0_extra_stage1.safetensors --stage "..."

The file loads like any weights file (``structnet eval pose2d --weights FILE``); it is not a bundled model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from structnet import hub, tasks
from structnet.nn.weights import read_metadata


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", help="a weights file written by 'structnet train'")
    ap.add_argument("out", help="where to store it (a .safetensors path)")
    ap.add_argument("--stage", default="", help="one line on the stage (data, steps, hours), kept as metadata")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing file at OUT")
    a = ap.parse_args()
    if Path(a.out).exists() and not a.overwrite:
        ap.error(f"{a.out} exists (an earlier stage's weights?); give --overwrite to replace it")
    model = hub.load(a.weights)
    meta = read_metadata(a.weights, decode=False)
    meta = {k: v for k, v in meta.items() if k not in ("structnet_task", "storage")}
    if a.stage:
        meta["campaign_stage"] = a.stage
    out = tasks.get(model.task).save_model(model.network, Path(a.out), meta, half=True)
    print(f"{out}: {out.stat().st_size / 2 ** 20:.1f} MB")


if __name__ == "__main__":
    main()
