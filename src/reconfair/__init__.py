"""reconfair: what medical image reconstruction does to downstream diagnostic AI.

The pipeline is ``clean image -> degrade -> reconstruct -> diagnose``; the tool
reports image quality, task performance and fairness across patient groups,
original versus reconstructed.  See ``docs/`` and the README quickstart.
"""

__version__ = "0.1.0"
