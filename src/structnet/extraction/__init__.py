"""Object extraction by joint localization and segmentation (Wang et al. 2014): see docs/extraction.md.

:mod:`.model` the two networks, :mod:`.latent` the box adjustments and their E-steps (MCMC, exhaustive),
:mod:`.train` the EM-type joint training, :mod:`.data` the training samples, :mod:`.inference` one photo,
:mod:`.metrics` P / J / MAE / max F, :mod:`.evaluate` the evaluator, :mod:`.writer` the files, :mod:`.synthetic`
shapes for small trainings, :mod:`.task` the registered task, :mod:`.config`.
"""
