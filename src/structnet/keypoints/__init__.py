"""Human keypoints shared by the tasks that work with joints: layouts as data (:mod:`.layouts`: names, flip pairs,
skeletal graph, structure-aware groups, torso pair; ``keypoints/layouts/*.yaml``), PCK / PCKh / AUC metrics
(:mod:`.metrics`) and the LSP / LSP-extended, MPII and COCO readers with their torch datasets (:mod:`.datasets`).
"""
