#!/usr/bin/env bash
# The 3D pose system on LSP-extended validation photos (people the pose2d model was not trained on), both ways to
# the skeleton maps, and one contact sheet of the panels to judge by eye:
#   OUT/image/    maps drawn by the image -> maps network (the paper's pipeline; predict's default)
#   OUT/joints/   maps drawn from the pose2d joints (--maps-model none)
#   OUT/sheet.png the two panels of every photo, one above the other
# Usage (repository root): bash benchmarks/predict_pose3d_lsp.sh [OUT]
set -euo pipefail
OUT=${1:-runs/pose3d/lsp_photos}
LSP=${STRUCTNET_DATA:-../shared/data}/lspet/images
# every 125th validation image (val.txt lines 1, 126, ...) and the runner of the README
IMGS=(im04001 im04126 im04251 im04294 im04376 im04501 im04626 im04751 im04876)
paths=()
for i in "${IMGS[@]}"; do paths+=("$LSP/$i.jpg"); done
structnet predict pose3d "${paths[@]}" --out "$OUT/image" --quiet --overwrite ${MAPS_MODEL:+--maps-model "$MAPS_MODEL"}
structnet predict pose3d "${paths[@]}" --out "$OUT/joints" --maps-model none --quiet --overwrite
python - "$OUT" "${IMGS[@]}" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out, names = Path(sys.argv[1]), sys.argv[2:]
rows = []
for n in names:
    pair = [np.asarray(Image.open(out / d / f"{n}_pose3d.png").convert("RGB")) for d in ("image", "joints")]
    w = max(p.shape[1] for p in pair)
    pair = [np.pad(p, ((0, 0), (0, w - p.shape[1]), (0, 0)), constant_values=255) for p in pair]
    rows.append(np.concatenate(pair + [np.full((12, w, 3), 255, np.uint8)], 0))
w = max(r.shape[1] for r in rows)
sheet = np.concatenate([np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows], 0)
Image.fromarray(sheet).save(out / "sheet.png")
print(out / "sheet.png", sheet.shape)
PY
