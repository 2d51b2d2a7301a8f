"""``report.html`` of an analysis: one self-contained page (pictures embedded as ``data:`` URIs, inline CSS, no
script, no network) with the photo, each task's pictures (its ``preview_suffixes``), its one-line summary, model,
settings, time and JSON result. Written by :meth:`structnet.analysis.Analysis.save`."""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

__all__ = ["render_report", "write_report", "TITLES", "PICTURE_LABELS"]

#: The heading of each task's section.
TITLES = {"skeleton": "Object skeletons and thickness", "extraction": "Salient object (box and mask)",
          "pose2d": "2D human pose", "hypercolumn": "Person parts", "pose3d": "3D human pose"}
#: The caption of each preview picture, by file suffix.
PICTURE_LABELS = {"_skeleton_overlay.png": "skeleton (colour: segment)", "_skeleton_segments.png": "segments",
                  "_extraction_overlay.png": "object mask and box", "_pose2d_overlay.png": "joints (visible only)",
                  "_hypercolumn_overlay.png": "parts in the person box",
                  "_pose3d.png": "2D joints, skeleton maps, 3D pose"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c4ccd6;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:16px 24px}
section{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:0 0 16px;padding:12px 16px}
h2{font-size:17px;margin:0 0 6px}.meta{color:#5b6673;font-size:13px;margin:0 0 8px}
.status{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;margin-left:6px;vertical-align:2px}
.ok{background:#dcf3e3;color:#16623a}.skipped{background:#fdf1d8;color:#7a5600}.failed{background:#fbe0e0;color:#8b1c1c}
figure{display:inline-block;margin:0 12px 8px 0;vertical-align:top}
figure img{max-width:100%;max-height:420px;border:1px solid #dde2e8;border-radius:4px}
figcaption{font-size:12px;color:#5b6673}
details pre{background:#f1f3f6;padding:8px;border-radius:4px;max-height:320px;overflow:auto;font-size:12px}
table{border-collapse:collapse;font-size:13px}td{padding:1px 10px 1px 0}
"""


def _png_data_uri(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _small(image: np.ndarray, max_side: int = 1024) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    f = max_side / max(h, w)
    if f >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def render_report(analysis) -> str:
    """The page of ``analysis`` (:class:`structnet.analysis.Analysis` with its image) as an HTML string."""
    esc = html.escape
    doc = analysis.to_dict()
    previews = analysis.previews()
    p = analysis.person
    if p is None:
        person = "pose2d did not run: no person decision"
    elif p.found:
        person = f"person found (joint score {p.score:.2f}; {p.visible_joints} of {p.joints} joints visible)"
    else:
        person = f"no person found (joint score {p.score:.2f} under the rule's threshold)"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{esc(analysis.name)}: structnet analysis</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{esc(analysis.name)}</h1><p>{analysis.width} x {analysis.height} px &middot; "
             f"{esc(person)} &middot; {analysis.seconds:.2f} s &middot; structnet {esc(doc['structnet'])}, schema "
             f"{esc(doc['schema'])} v{doc['version']}</p></header><main>"]
    if analysis.image is not None:
        parts.append(f"<section><h2>Photo</h2><figure><img alt='photo' src='{_png_data_uri(_small(analysis.image))}'>"
                     f"</figure></section>")
    for name, tr in analysis.tasks.items():
        title = TITLES.get(name, name)
        head = (f"<section id='{esc(name)}'><h2>{esc(title)} <span class='status {esc(tr.status)}'>"
                f"{esc(tr.status)}</span></h2>")
        meta = [f"task <b>{esc(name)}</b>"]
        if tr.model:
            meta.append(f"model <b>{esc(tr.model)}</b>")
        meta.append(f"{tr.seconds:.2f} s")
        parts.append(head + f"<p class='meta'>{' &middot; '.join(meta)}</p>")
        if not tr.ok:
            parts.append(f"<p>{esc(tr.reason or '')}</p></section>")
            continue
        if tr.summary:
            parts.append(f"<p>{esc(tr.summary)}</p>")
        for suffix, png in previews.get(name, {}).items():
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            label = PICTURE_LABELS.get(suffix, suffix.strip("_").rsplit(".", 1)[0])
            parts.append(f"<figure><img alt='{esc(label)}' src='{uri}'><figcaption>{esc(label)}</figcaption></figure>")
        parts.append(_numbers(name, tr.result or {}))
        parts.append("<details><summary>settings and JSON</summary><pre>"
                     + esc(json.dumps({"settings": tr.settings, "result": tr.result}, indent=1)) + "</pre></details>")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _numbers(name: str, result: Dict[str, Any]) -> str:
    """A small table of the headline numbers of a task's JSON result."""
    rows = []
    if name == "skeleton":
        t = result.get("thickness_px") or {}
        rows = [("skeleton pixels", result.get("skeleton_pixels")), ("segments", result.get("segments")),
                ("thickness median / max (px)", f"{t.get('median')} / {t.get('max')}" if t else "none")]
    elif name == "extraction":
        rows = [("box (x1, y1, x2, y2)", ", ".join(f"{v:.0f}" for v in result.get("box", []))),
                ("score", result.get("score")), ("object area", f"{100 * float(result.get('area', 0)):.1f} %")]
    elif name == "pose2d":
        joints = result.get("joints", [])
        rows = [(j["name"].replace("_", " "), "not visible" if j.get("visible") is False else
                 f"{j['x']:.0f}, {j['y']:.0f} (score {j['score']:.2f})") for j in joints if j.get("x") is not None]
    elif name == "hypercolumn":
        rows = [(k, f"{100 * v:.1f} % of the box") for k, v in (result.get("parts") or {}).items()]
    elif name == "pose3d":
        rows = [(j["name"].replace("_", " "), f"{j['x']:.0f}, {j['y']:.0f}, {j['z']:.0f} mm")
                for j in result.get("joints", []) if j.get("x") is not None]
    if not rows:
        return ""
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def write_report(path: Union[str, Path], analysis) -> Path:
    """Write :func:`render_report` of ``analysis`` to ``path`` atomically; returns the path."""
    from .atomic import atomic_write

    text = render_report(analysis).encode("utf-8")
    return atomic_write(Path(path), lambda f: f.write(text))
