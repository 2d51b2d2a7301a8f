"""The E-step of joint training, MCMC against exhaustive search, with fixed trained networks (Wang et al. 2014,
Sec. 5.1: "enumerate the 625 possible proposals exhaustively ... similar accuracy ... about 30 times of runtime").

For N training images (DUTS-TR-2k ids the training used; no augmentation) both E-steps pick an adjustment with the
same networks and the same joint cost (:func:`structnet.extraction.losses.joint_costs`): exhaustive = the arg-min over
all 625; MCMC = K = 20 Metropolis-Hastings moves with the proposal N(mu_i, Sigma_i) x P_c (mu_i, Sigma_i from the
training run's adjustment history when --history is given, else N(0, 10^2 I)). Reported per method: the J of the
segmentation the chosen reference gives (the pasted mask against the ground truth), the joint cost, the share of
images where MCMC found the exhaustive optimum, candidates evaluated and seconds per image (one thread).

    python benchmarks/bench_extraction_estep.py --weights runs/extraction/joint_duts_cpu/model.safetensors \\
        --history runs/extraction/joint_duts_cpu/latent_history.npz --n 96 \\
        --json benchmarks/results/extraction_estep_mcmc_vs_exhaustive.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--history", default=None, help="latent_history.npz of the training run (proposal mean / cov)")
    ap.add_argument("--config", default="joint_duts_cpu", help="extraction config whose data and latent sections "
                                                               "are used")
    ap.add_argument("--n", type=int, default=96, help="training images (spread over the set)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from structnet import hub
    from structnet.engine.config import load_config
    from structnet.engine.trainer import collate_samples
    from structnet.extraction.config import ExtractionConfig
    from structnet.extraction.data import ExtractionDataset
    from structnet.extraction.inference import paste_mask
    from structnet.extraction.latent import (AdjustmentHistory, adjustment_grid, data_term, exhaustive_search,
                                             mh_finish, mh_propose, proposal_log_probs, zero_index)
    from structnet.extraction.metrics import jaccard
    from structnet.extraction.model import UNITS, clamp_boxes, units_to_pixels
    from structnet.extraction.losses import joint_costs

    cfg = load_config(ExtractionConfig, a.config, ["data.flip_prob=0", "data.colour=0"])
    lat = cfg.latent
    net = hub.load(a.weights).network.eval()
    ds = ExtractionDataset(cfg, boundaries=True)
    hist = AdjustmentHistory(0, sigma0=lat.sigma0)
    if a.history:
        with np.load(a.history) as d:
            hist.load_state_dict(dict(d))
    grid = adjustment_grid(lat.steps)
    grid_t = torch.as_tensor(grid, dtype=torch.float32)
    zero = zero_index(grid)
    r = float(np.abs(grid).max())
    rng = np.random.default_rng(a.seed)
    idx = np.linspace(0, len(ds) - 1, min(a.n, len(ds))).round().astype(int)
    rows = []
    t_ex = t_mc = 0.0
    n_ev_mc = 0
    for s in range(0, len(idx), a.batch):
        batch = collate_samples([ds[int(i)] for i in idx[s:s + a.batch]])
        images, masks, L = batch["image"], batch["mask"], batch["box"].float()
        B, size = len(L), images.shape[-1]
        with torch.no_grad():
            pred = net.locate(images).float()
        frames = clamp_boxes(L + L.new_tensor([-r, -r, r, r]))
        # exhaustive
        t0 = time.perf_counter()
        owners = torch.arange(B).repeat_interleave(len(grid))
        boxes = clamp_boxes(L[:, None, :] + grid_t[None]).reshape(-1, 4)
        costs_all = joint_costs(net, images, masks, owners, boxes, pred, frames[owners], lat.chunk).view(B, -1)
        best_ex = [exhaustive_search(c.numpy()) for c in costs_all]
        t_ex += time.perf_counter() - t0
        # MCMC (timed including the proposal and the data term, as in training)
        t0 = time.perf_counter()
        bounds = batch["boundary"].numpy()
        plans = []
        for b in range(B):
            cb = clamp_boxes(L[b][None] + grid_t).numpy().astype(np.float64) * size / UNITS
            pc = data_term(bounds[b], cb, lat.edge_points)
            mu, cov = hist.params(int(batch["index"][b]))
            lq = proposal_log_probs(grid, mu, cov, pc, lat.pc_floor)
            props, cand = mh_propose(lq, zero, lat.moves, rng)
            plans.append((lq, props, cand))
        own = torch.cat([torch.full((len(c),), b, dtype=torch.long) for b, (_, _, c) in enumerate(plans)])
        cidx = torch.as_tensor(np.concatenate([c for _, _, c in plans]))
        mc_costs = joint_costs(net, images, masks, own, clamp_boxes(L[own] + grid_t[cidx]), pred, frames[own],
                               lat.chunk).numpy()
        best_mc, at = [], 0
        for lq, props, cand in plans:
            k, info = mh_finish(lq, zero, props, cand, mc_costs[at:at + len(cand)], rng, lat.temperature)
            at += len(cand)
            best_mc.append(k)
            n_ev_mc += info["evaluated"]
        t_mc += time.perf_counter() - t0
        # J of the segmentation each reference gives, and of the unadjusted box
        for b in range(B):
            row = {"index": int(batch["index"][b])}
            for name, k in (("exhaustive", best_ex[b]), ("mcmc", best_mc[b]), ("zero", zero)):
                box = clamp_boxes(L[b] + grid_t[k])[None]
                with torch.no_grad():
                    p = torch.sigmoid(net.segment(images[b:b + 1], box).float())[0]
                full = paste_mask(p, units_to_pixels(box[0], (size, size)).tolist(), (size, size)).numpy()
                row[name] = {"adjustment": grid[k].tolist(), "cost": float(costs_all[b, k]),
                             "j": jaccard(full > 0.5, masks[b].numpy() > 0.5)}
            rows.append(row)
    n = len(rows)

    def mean(method, key):
        return float(np.mean([r[method][key] for r in rows]))

    out = {"weights": a.weights, "history": a.history, "n_images": n, "moves": lat.moves, "candidates": len(grid),
           "j": {m: mean(m, "j") for m in ("exhaustive", "mcmc", "zero")},
           "cost": {m: mean(m, "cost") for m in ("exhaustive", "mcmc", "zero")},
           "mcmc_found_optimum": float(np.mean([r["mcmc"]["adjustment"] == r["exhaustive"]["adjustment"]
                                                for r in rows])),
           "seconds_per_image": {"exhaustive": t_ex / n, "mcmc": t_mc / n},
           "evaluated_per_image": {"exhaustive": float(len(grid)), "mcmc": n_ev_mc / n},
           "cost_ratio_exhaustive_over_mcmc": t_ex / max(t_mc, 1e-9),
           "threads": a.threads, "per_image": rows}
    print(json.dumps({k: v for k, v in out.items() if k != "per_image"}, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
