"""Latent box adjustments and their estimation (Wang et al. 2014, Sec. 4.2 (i)).

Each training image ``i`` has a latent adjustment ``dL_i`` of its ground-truth box ``L_i``: every coordinate moves
by one of ``{-10, -5, 0, 5, 10}`` units (:data:`STEPS`; units: the image normalised to 0 .. 224), so there are
``5^4 = 625`` candidates (:func:`adjustment_grid`). The adjusted box ``L_i + dL_i`` is the *segmentation
reference*: the segmentation net is trained on its crop and the localization net regresses it. The E-step picks
``dL_i`` for fixed networks, by the joint cost of the two tasks (Eq. 4-6)::

    cost_i(dL) = || F_loc(I_i) - L_i - dL ||^2  +  sum_j BCE(F_seg(I_i, L_i + dL)_j, Y_i^j)

and the invariant distribution ``pi(dL) ~ exp(-cost_i(dL) / T)`` (T = 1: the paper's probabilities).

Two E-steps:

* :func:`exhaustive_search`: the arg-min of the cost over all 625 candidates (the paper's reference, ~30 x the
  cost of sampling).
* :func:`mh_search`: ``K`` Metropolis-Hastings moves (default 20) from ``dL = 0`` with the proposal of Eq. 8,
  ``q(dL -> dL') = N(dL' | mu_i, Sigma_i) * P_c(dL')``: a Gaussian around the optimal adjustments this image got
  in earlier iterations (:class:`AdjustmentHistory`), times the data-driven term ``P_c`` = the fraction of ``c``
  points (default 200), sampled at equal distances along the edges of the adjusted box, that fall on superpixel
  boundaries (SLIC, :func:`boundary_map`). ``q`` does not depend on the current state (an independence sampler),
  so the acceptance ratio of Eq. 7 is ``min(1, pi(dL') q(dL) / (pi(dL) q(dL')))``; the chain's visited state of
  lowest cost is the E-step's answer ("the optimal latent variable after K moves"). Because the proposals do not
  depend on the state, all ``K`` are drawn first and their costs computed in one batch
  (:func:`sample_proposals`), then the accept / reject sequence runs on those numbers (:func:`mh_chain`):
  the same chain, one network call.

``P_c`` is 0 for a box whose edges cross no boundary; a floor (``pc_floor``, ours) keeps every candidate
reachable, which the chain needs to be irreducible.
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["STEPS", "adjustment_grid", "zero_index", "boundary_map", "box_edge_points", "data_term",
           "gaussian_log_density", "proposal_log_probs", "sample_proposals", "mh_chain", "mh_propose", "mh_finish",
           "mh_search",
           "exhaustive_search", "AdjustmentHistory"]

STEPS = (-10.0, -5.0, 0.0, 5.0, 10.0)


def adjustment_grid(steps: Sequence[float] = STEPS) -> np.ndarray:
    """All ``len(steps)^4`` adjustments ``(A, 4)`` (dx1, dy1, dx2, dy2), the last coordinate varying fastest."""
    s = [float(v) for v in steps]
    if not s or len(set(s)) != len(s):
        raise ValueError(f"adjustment steps must be distinct numbers, got {list(steps)}")
    return np.array(list(itertools.product(s, repeat=4)), np.float64)


def zero_index(grid: np.ndarray) -> int:
    """Index of the zero adjustment in ``grid`` (ValueError when the steps do not contain 0)."""
    hits = np.nonzero(np.all(grid == 0, axis=1))[0]
    if len(hits) != 1:
        raise ValueError("the adjustment steps must contain 0 (the unadjusted box)")
    return int(hits[0])


def boundary_map(image: np.ndarray, n_segments: int = 200, compactness: float = 10.0) -> np.ndarray:
    """SLIC superpixels (Achanta et al.) of an RGB image -> bool ``(H, W)``: True on superpixel boundaries
    (``v_j = 1`` of the paper), computed once per training image."""
    from skimage.segmentation import find_boundaries, slic

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"boundary_map needs an RGB image (H, W, 3), got {img.shape}")
    labels = slic(img, n_segments=int(n_segments), compactness=float(compactness), start_label=0)
    return find_boundaries(labels, mode="thick")


def box_edge_points(boxes: np.ndarray, c: int = 200) -> np.ndarray:
    """``c`` points at equal distances along the perimeter of each box ``(..., 4)`` (x1, y1, x2, y2), starting at
    the top-left corner and going clockwise -> ``(..., c, 2)`` (x, y)."""
    b = np.asarray(boxes, np.float64)
    x1, y1, x2, y2 = (b[..., k, None] for k in range(4))
    w, h = np.maximum(x2 - x1, 0.0), np.maximum(y2 - y1, 0.0)
    per = 2 * (w + h)
    t = (np.arange(c, dtype=np.float64) + 0.5) / c * per                    # distance along the perimeter
    top, right, bottom = t < w, (t >= w) & (t < w + h), (t >= w + h) & (t < 2 * w + h)
    x = np.where(top, x1 + t, np.where(right, x2, np.where(bottom, x2 - (t - w - h), x1)))
    y = np.where(top, y1, np.where(right, y1 + (t - w), np.where(bottom, y2, y2 - (t - 2 * w - h))))
    return np.stack([x, y], axis=-1)


def data_term(boundary: np.ndarray, boxes: np.ndarray, c: int = 200) -> np.ndarray:
    """``P_c`` of each box ``(A, 4)`` (pixels of ``boundary``): the fraction of its ``c`` edge points that lie on a
    boundary pixel (points outside the image count as not on one)."""
    bd = np.asarray(boundary, bool)
    pts = box_edge_points(boxes, c)
    h, w = bd.shape
    xi, yi = np.floor(pts[..., 0]).astype(np.int64), np.floor(pts[..., 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    hit = np.zeros(xi.shape, bool)
    hit[inside] = bd[yi[inside], xi[inside]]
    return hit.mean(axis=-1)


def gaussian_log_density(x: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``log N(x | mu, cov)`` for rows of ``x`` ``(A, d)``."""
    x = np.asarray(x, np.float64)
    d = x.shape[-1]
    diff = x - np.asarray(mu, np.float64)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("the covariance must be positive definite")
    sol = np.linalg.solve(cov, diff.T).T
    return -0.5 * (np.sum(diff * sol, axis=-1) + logdet + d * np.log(2 * np.pi))


def proposal_log_probs(grid: np.ndarray, mu: np.ndarray, cov: np.ndarray, pc: Optional[np.ndarray] = None,
                       pc_floor: float = 0.01) -> np.ndarray:
    """``log q(dL')`` over the grid ``(A,)`` (normalised to sum 1): the Gaussian density times ``max(P_c,
    pc_floor)`` (Eq. 8; ``pc=None``: the Gaussian alone)."""
    lq = gaussian_log_density(grid, mu, cov)
    if pc is not None:
        lq = lq + np.log(np.maximum(np.asarray(pc, np.float64), pc_floor))
    lq = lq - lq.max()
    return lq - np.log(np.exp(lq).sum())


def sample_proposals(log_q: np.ndarray, moves: int, rng: np.random.Generator) -> np.ndarray:
    """``moves`` candidate indices drawn independently from ``q`` (the proposals of the chain's moves)."""
    p = np.exp(log_q - log_q.max())
    return rng.choice(len(p), size=int(moves), p=p / p.sum())


def mh_chain(log_pi: np.ndarray, log_q: np.ndarray, start: int, proposals: Sequence[int],
             uniforms: Sequence[float]) -> Tuple[np.ndarray, int]:
    """The Metropolis-Hastings chain of an independence sampler (Eq. 7): from ``start``, move ``k`` proposes
    ``proposals[k]`` and accepts it when ``uniforms[k] < pi(new) q(old) / (pi(old) q(new))``.

    ``log_pi`` and ``log_q``: unnormalised log target and log proposal over the candidates (only the entries of
    ``start`` and the proposals are read). Returns the visited states ``(moves + 1,)`` (start first) and the
    number of accepted moves."""
    states = np.empty(len(proposals) + 1, np.int64)
    cur = int(start)
    states[0] = cur
    accepted = 0
    for k, (new, u) in enumerate(zip(proposals, uniforms)):
        new = int(new)
        log_ratio = (log_pi[new] - log_pi[cur]) + (log_q[cur] - log_q[new])
        if log_ratio >= 0 or np.log(max(float(u), 1e-300)) < log_ratio:
            cur = new
            accepted += 1
        states[k + 1] = cur
    return states, accepted


def mh_propose(log_q: np.ndarray, start: int, moves: int, rng: np.random.Generator
               ) -> Tuple[np.ndarray, np.ndarray]:
    """First half of an MCMC E-step: the ``moves`` proposals and the distinct candidates whose costs the chain
    needs (the start and the proposals)."""
    props = sample_proposals(log_q, moves, rng)
    return props, np.unique(np.concatenate([[int(start)], props]))


def mh_finish(log_q: np.ndarray, start: int, props: np.ndarray, cand: np.ndarray, costs: np.ndarray,
              rng: np.random.Generator, temperature: float = 1.0) -> Tuple[int, dict]:
    """Second half: the chain on the candidates' ``costs`` with ``pi = exp(-cost / T)``; returns the visited
    state of lowest cost and ``{"evaluated": n, "accepted": a}``."""
    log_pi = np.full(len(log_q), -np.inf)
    log_pi[np.asarray(cand)] = -np.asarray(costs, np.float64) / float(temperature)
    states, acc = mh_chain(log_pi, log_q, start, props, rng.random(len(props)))
    best = int(states[np.argmax(log_pi[states])])
    return best, {"evaluated": int(len(cand)), "accepted": int(acc)}


def mh_search(cost_fn, log_q: np.ndarray, start: int, moves: int, rng: np.random.Generator,
              temperature: float = 1.0) -> Tuple[int, dict]:
    """One image's MCMC E-step: draw ``moves`` proposals from ``q``, evaluate ``cost_fn(indices) -> costs`` once
    for the distinct candidates (start included), run :func:`mh_chain` with ``pi = exp(-cost / T)``.
    Returns the visited state of lowest cost and ``{"evaluated": n, "accepted": a}``."""
    props, cand = mh_propose(log_q, start, moves, rng)
    return mh_finish(log_q, start, props, cand, cost_fn(cand), rng, temperature)


def exhaustive_search(costs: np.ndarray) -> int:
    """The candidate of lowest cost (the exhaustive E-step over all candidates)."""
    return int(np.argmin(np.asarray(costs)))


class AdjustmentHistory:
    """Per training image, the optimal adjustments of the earlier E-steps: their mean and covariance are the
    ``mu_i`` and ``Sigma_i`` of the proposal (Eq. 8). Before an image has ``min_count`` of them the proposal is
    ``N(0, sigma0^2 I)``; ``sigma_min^2 I`` is added to the covariance so that it never collapses (ours)."""

    def __init__(self, n: int, sigma0: float = 10.0, sigma_min: float = 2.5, min_count: int = 2):
        self.n = int(n)
        self.sigma0, self.sigma_min, self.min_count = float(sigma0), float(sigma_min), int(min_count)
        self.count = np.zeros(self.n, np.int64)
        self.sum = np.zeros((self.n, 4))
        self.outer = np.zeros((self.n, 4, 4))

    def _grow(self, n: int) -> None:
        if n > self.n:
            extra = n - self.n
            self.count = np.concatenate([self.count, np.zeros(extra, np.int64)])
            self.sum = np.concatenate([self.sum, np.zeros((extra, 4))])
            self.outer = np.concatenate([self.outer, np.zeros((extra, 4, 4))])
            self.n = n

    def add(self, i: int, adjustment: np.ndarray) -> None:
        """Record image ``i``'s optimal adjustment of this E-step (the arrays grow to fit ``i``)."""
        self._grow(int(i) + 1)
        a = np.asarray(adjustment, np.float64)
        self.count[i] += 1
        self.sum[i] += a
        self.outer[i] += np.outer(a, a)

    def params(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(mu_i, Sigma_i)`` of image ``i``'s proposal."""
        n = int(self.count[i]) if i < self.n else 0
        if n < self.min_count:
            return np.zeros(4), np.eye(4) * self.sigma0 ** 2
        mu = self.sum[i] / n
        cov = self.outer[i] / n - np.outer(mu, mu)
        return mu, cov + np.eye(4) * self.sigma_min ** 2

    def state_dict(self) -> dict:
        return {"count": self.count.copy(), "sum": self.sum.copy(), "outer": self.outer.copy()}

    def load_state_dict(self, d: dict) -> None:
        count, s, outer = (np.asarray(d[k]) for k in ("count", "sum", "outer"))
        if count.ndim != 1 or s.shape != (len(count), 4) or outer.shape != (len(count), 4, 4):
            raise ValueError("not an adjustment history (count (n,), sum (n, 4), outer (n, 4, 4))")
        self.count, self.sum, self.outer = count.astype(np.int64), s.astype(np.float64), outer.astype(np.float64)
        self.n = len(count)
