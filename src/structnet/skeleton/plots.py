"""PR-curve plots of skeleton evaluation results (matplotlib is imported here only, when a plot is drawn)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .metrics import SkeletonEvalResult, f_measure

__all__ = ["plot_pr"]


def plot_pr(results: Dict[str, SkeletonEvalResult], path: Union[str, Path],
            paper_points: Optional[Dict[str, Union[float, Tuple[float, float]]]] = None) -> Path:
    """PR curves with iso-F contours (matplotlib Agg) -> PNG at ``path``.

    ``results``: label -> result (or its ``to_dict()``); the ODS point is marked.  ``paper_points``: label ->
    ``(recall, precision)`` (drawn as a marker) or a published F value (drawn as a dashed iso-F curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 6))
    rr = np.linspace(0.01, 1, 400)
    for fv in np.arange(0.1, 1.0, 0.1):
        pp = fv * rr / (2 * rr - fv)
        ok = (pp > 0) & (pp <= 1)
        ax.plot(rr[ok], pp[ok], color="0.85", lw=0.8, zorder=0)
        j = np.flatnonzero(ok)
        if len(j):
            ax.text(rr[j[-1]] - 0.02, pp[j[-1]] - 0.02, f"F={fv:.1f}", color="0.6", fontsize=7)
    for label, res in results.items():
        d = res.to_dict() if hasattr(res, "to_dict") else dict(res)
        line, = ax.plot(d["recall"], d["precision"], lw=2, label=f"[F={d['ods_f']:.3f}] {label}")
        ax.plot([d["ods_r"]], [d["ods_p"]], "o", color=line.get_color())
    for label, v in (paper_points or {}).items():
        if np.ndim(v) == 0:
            fv = float(v)
            pp = fv * rr / (2 * rr - fv)
            ok = (pp > 0) & (pp <= 1)
            ax.plot(rr[ok], pp[ok], "--", lw=1, label=f"[F={fv:.3f}] {label} (published)")
        else:
            r0, p0 = (float(x) for x in v)
            ax.plot([r0], [p0], "*", ms=10, label=f"[F={float(f_measure(r0, p0)):.3f}] {label} (published)")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Recall", ylabel="Precision", aspect="equal")
    ax.grid(True, lw=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
