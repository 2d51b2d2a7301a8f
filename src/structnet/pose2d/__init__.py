"""2D human pose (Ke et al. 2018): multi-scale supervision (MSS-net heads), the multi-scale regression network
(MSR-net), the structure-aware loss and keypoint masking, on a stacked hourglass or a pretrained encoder with an
upsampling decoder; see docs/pose2d.md.

Joint layouts (names, flip pairs, skeletal graph, structure-aware groups), PCK / PCKh / AUC and the LSP / LSPET,
MPII and COCO readers live below the tasks in :mod:`structnet.keypoints`. Here: :mod:`.model` (stacked hourglass)
and :mod:`.encoder` (pretrained encoder + decoder) the two networks, :mod:`.heads` their MSS / MSR heads,
:mod:`.codec` multi-scale heatmaps, :mod:`.augment` crops and masking, :mod:`.losses` Eq. 1-2, :mod:`.train`
training stages, :mod:`.evaluate`, :mod:`.inference` one photo (person window, flip test), :mod:`.writer`,
:mod:`.synthetic` stick figures for the demo, :mod:`.task` the registered task, :mod:`.config`.
"""
