"""The bundled models: the table of the weights files shipped in ``structnet/weights/`` (no torch import)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

from .errors import UserError

__all__ = ["WEIGHTS_DIR", "bundled_weights", "bundled_path"]


#: The bundled models: ``structnet/weights/<name>.safetensors``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def bundled_weights() -> Dict[str, Path]:
    """``{name: file}`` of the bundled models (names are the file stems), sorted by name."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


def bundled_path(name: str) -> Path:
    """The file of a bundled model; UserError listing the names when there is none of that name."""
    b = bundled_weights()
    if name not in b:
        raise UserError(f"unknown model {name!r}: not a file and not a bundled model (bundled: "
                        f"{', '.join(b) or 'none'}; see 'structnet models')")
    return b[name]
