"""A/B tests of the keypoint MLP's inputs on Human3.6M (docs/pose3d.md, "What limits the lifter"): does absolute
image geometry or bone-length augmentation help the lifting generalise to the test subjects?

    python benchmarks/ablate_pose3d_mlp_inputs.py --geometry 0|1 [--steps 6000]
    python benchmarks/ablate_pose3d_mlp_inputs.py --bone-sigma 0|0.08 [--steps 6000]

Martinez et al.'s MLP (structnet.pose3d.KeypointMLP) on S1, S5-S8 (every stored frame, 4 cameras), batch 256,
left-right mirroring, OneCycle Adam 1e-3, one thread; every 1000 steps MPJPE (mm, unweighted mean over actions) on
every 10th stored frame of S9 / S11 from GT 2D. ``--geometry 1`` adds the person box centre relative to the
principal point and the box side, both over the focal length (standardised), to the box-normalised joints: the
cues Martinez et al.'s pixel inputs keep. ``--bone-sigma s`` scales every bone of the training poses by
exp(N(0, s)) (left and right bones alike), re-projects them with the sample's camera and normalises the new 2D
joints (``--bone-sigma 0``: re-projected, unscaled: the control). The two runs of each A/B differ only in the flag
(same seeds). One run: ~10 min on one core, ~17 min beside two other jobs. Logs:
benchmarks/logs/ablate_pose3d_mlp_{geometry0,geometry1,bone0,bone0.08}.log.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from structnet.pose3d.h36m import H36M
from structnet.pose3d.model import KeypointMLP, normalise_2d
from structnet.pose3d.joints import FLIP_PERM, PARENTS, ROOT


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--geometry", type=int, default=0)
    ap.add_argument("--bone-sigma", type=float, default=None)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--data", default=os.path.join(os.environ.get("STRUCTNET_DATA", "../shared/data"), "h36m"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    h = H36M(a.data)
    tr, te = h.arrays(["S1", "S5", "S6", "S7", "S8"]), h.arrays(["S9", "S11"], every=10)

    def geometry(arr, center, side):
        f = arr["f"].mean(1)
        return np.stack([(center[:, 0] - arr["c"][:, 0]) / f, (center[:, 1] - arr["c"][:, 1]) / f,
                         2 * side / f], 1).astype(np.float32)

    kp, cen, side = normalise_2d(tr["joints_2d"], 1.2)
    geo = torch.from_numpy(geometry(tr, cen, side))
    kp = torch.from_numpy(kp)
    kpe, cene, sidee = normalise_2d(te["joints_2d"], 1.2)
    geoe, kpe = torch.from_numpy(geometry(te, cene, sidee)), torch.from_numpy(kpe)
    X = torch.from_numpy(tr["joints_cam"].astype(np.float32))
    F, C = torch.from_numpy(tr["f"]), torch.from_numpy(tr["c"])
    t_test = torch.from_numpy((te["joints_cam"] - te["joints_cam"][:, ROOT:ROOT + 1]).astype(np.float32))
    actions = te["action"]
    gm, gs = geo.mean(0), geo.std(0)
    perm = torch.as_tensor(FLIP_PERM)
    side_of = torch.tensor([min(j, FLIP_PERM[j]) for j in range(17)])    # left and right bones share a factor

    torch.manual_seed(0)
    mlp = KeypointMLP()
    if a.geometry:
        mlp.inp[0] = torch.nn.Linear(34 + 3, 1024)

    def net(k, g):
        x = k.flatten(1)
        if a.geometry:
            x = torch.cat([x, (g - gm) / gs], 1)
        y = mlp.inp(x)
        for b in mlp.blocks:
            y = y + b(y)
        return mlp.out(y).view(-1, 17, 3)                              # metres

    def box_normalise(j):
        lo, hi = j.min(1).values, j.max(1).values
        s = (hi - lo).max(-1).values.clamp(min=1.0) * 1.2
        return (j - ((lo + hi) / 2)[:, None]) / s[:, None, None]

    def evaluate():
        mlp.eval()
        with torch.no_grad():
            p = torch.cat([net(kpe[i:i + 4096], geoe[i:i + 4096]) for i in range(0, len(kpe), 4096)]) * 1000
        mlp.train()
        e = (p - t_test).norm(dim=-1).mean(1).numpy()
        return float(np.mean([e[actions == x].mean() for x in sorted(set(actions))]))

    opt = torch.optim.Adam(mlp.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=a.steps)
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for step in range(a.steps):
        idx = torch.randint(0, len(kp), (256,), generator=g)
        gg = geo[idx].clone()
        if a.bone_sigma is not None:                                   # 2D re-projected from the 3D
            x = X[idx]
            s = torch.exp(torch.randn(256, 17, generator=g) * a.bone_sigma)[:, side_of]
            y = torch.zeros_like(x)
            for j in range(1, 17):
                y[:, j] = y[:, PARENTS[j]] + (x[:, j] - x[:, PARENTS[j]]) * s[:, j:j + 1]
            x = x[:, :1] + y
            k = box_normalise(x[..., :2] / x[..., 2:3] * F[idx][:, None] + C[idx][:, None])
            t = x - x[:, :1]
        else:
            k, t = kp[idx].clone(), X[idx] - X[idx][:, :1]
        fl = torch.rand(256, generator=g) < 0.5
        k[fl] = k[fl][:, perm] * torch.tensor([-1.0, 1.0])
        t[fl] = t[fl][:, perm] * torch.tensor([-1.0, 1.0, 1.0])
        gg[fl, 0] *= -1
        loss = ((net(k, gg) - t / 1000) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 1000 == 0:
            print(f"step {step + 1} loss {loss.item():.5f} S9/S11 MPJPE {evaluate():.2f} mm ({time.time() - t0:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
