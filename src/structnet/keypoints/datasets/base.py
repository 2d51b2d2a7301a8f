"""The torch ``Dataset`` over pose records (:class:`PoseDataset`), base of the per-format datasets in
:mod:`.lsp`, :mod:`.mpii`, :mod:`.coco` and of :class:`structnet.pose2d.synthetic.SyntheticPoseDataset`. Reads no
format itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch.utils.data import Dataset

from ...data.keys import parse_key
from .records import PoseRecord, missing_images

Transform = Callable[[Dict[str, Any], np.random.Generator], Any]


class PoseDataset(Dataset):
    """Torch dataset over :class:`PoseRecord` s. ``ds[i]`` / ``ds[(i, seed)]`` -> ``record.to_sample()`` plus
    ``"index"`` (image loaded when ``load_images`` and the record has an image path), then, if given,
    ``transform(sample, rng)`` with ``rng = np.random.default_rng(seed if given else i)``; its return value is
    the item. Augmentation and target encoding belong in ``transform``."""

    def __init__(self, records: Sequence[PoseRecord], transform: Optional[Transform] = None,
                 load_images: bool = True):
        self.records = list(records)
        if not self.records:
            raise ValueError(f"{type(self).__name__}: no records")
        if transform is not None and not callable(transform):
            raise ValueError(f"{type(self).__name__}: transform must be callable, got {type(transform).__name__}")
        self.transform = transform
        self.load_images = bool(load_images)
        self.layout = self.records[0].layout

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key):
        index, seed = parse_key(key, len(self))
        sample = self.records[index].to_sample(load_image=self.load_images)
        sample["index"] = index
        if self.transform is None:
            return sample
        return self.transform(sample, np.random.default_rng(index if seed is None else seed))

    def missing_images(self) -> List[Tuple[str, Path]]:
        """``(name, image_path)`` of each distinct image file of the records that is not there (absent, a folder,
        a dangling link), in record order, checked without opening or decoding any file
        (:func:`~structnet.keypoints.datasets.records.missing_images`). Records without an image path are not
        listed. Empty when every image file is present."""
        return missing_images(self.records)

    def missing_image_indices(self) -> List[int]:
        """Indices (``ds[i]``) of the records whose image file is missing: every person of a listed image, so a
        caller can skip them, e.g. ``keep = sorted(set(range(len(ds))) - set(ds.missing_image_indices()))``."""
        bad = {p for _, p in self.missing_images()}
        return [i for i, r in enumerate(self.records) if r.image_path is not None and Path(r.image_path) in bad]
