"""structnet: deep multi-scale structure extraction from images.

Systems: ``structnet.skeleton`` (LMSDS / FSDS / HED object skeletons with scale).
Shared layers: ``backbones`` (typed feature taps), ``engine`` (trainer, configs),
``data`` (robust image I/O, joint transforms), ``nn`` (shared layers).
"""

__version__ = "0.1.0"
