"""Copy LSP-extended into the repository, small enough to travel to a lent GPU machine (64 MiB per call, with the
code), in the layout ``read_lspet`` reads, so that ``bash benchmarks/gpu_train_pose2d.sh`` can train there.

    echo /.device_data/ >> .git/info/exclude          # once: never committed (research-use data)
    python benchmarks/pack_lspet_for_device.py --src ../shared/data/lspet --dst .device_data/lspet --max-side 320
    # device run: carry [".device_data"], command: STRUCTNET_DATA=.device_data bash benchmarks/gpu_train_pose2d.sh

Images are shrunk so that their longer side is at most ``--max-side`` (LSPET persons are about 150 px long, the
median image side is 295 px, so most images keep their size) and re-encoded as JPEG ``--quality``; the joints are
scaled with them (pixel centres: ``x' = (x + 0.5) * f_x - 0.5``, f per axis after rounding). ``train.txt`` / ``val.txt`` are copied. Prints the
folder's size.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default="../shared/data/lspet")
    ap.add_argument("--dst", default=".device_data/lspet")
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--quality", type=int, default=88)
    a = ap.parse_args()
    src, dst = Path(a.src), Path(a.dst)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    names = [n for split in ("train", "val") for n in (src / f"{split}.txt").read_text().split()]
    joints = np.load(src / "joints.npy").astype(np.float64)
    if len(names) != len(joints):
        raise SystemExit(f"{src}: {len(names)} names in train.txt + val.txt but {len(joints)} rows in joints.npy")
    for i, name in enumerate(names):
        im = Image.open(src / "images" / f"{name}.jpg").convert("RGB")
        f = min(1.0, a.max_side / max(im.size))
        if f < 1.0:
            size = (max(1, round(im.width * f)), max(1, round(im.height * f)))
            scale = np.array([size[0] / im.width, size[1] / im.height])  # exact per axis after rounding
            im = im.resize(size, Image.BILINEAR)
            joints[i, :, :2] = (joints[i, :, :2] + 0.5) * scale - 0.5
        im.save(dst / "images" / f"{name}.jpg", quality=a.quality)
    np.save(dst / "joints.npy", joints.astype(np.float32))
    for split in ("train", "val"):
        shutil.copyfile(src / f"{split}.txt", dst / f"{split}.txt")
    size = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
    print(f"{dst}: {len(names)} images, {size / 2 ** 20:.1f} MiB")


if __name__ == "__main__":
    main()
