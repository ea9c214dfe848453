"""reconfair: what medical image reconstruction does to downstream diagnostic AI.

The pipeline is ``clean image -> degrade -> reconstruct -> diagnose``; the tool
reports image quality, task performance and fairness across patient groups,
original versus reconstructed.  See ``docs/`` and the README quickstart.

From Python (``docs/api.md``): :func:`load_config`, :func:`run_study` and
:func:`evaluate`, defined in :mod:`reconfair.api`.  They are imported on first
use (PEP 562 ``__getattr__``), so ``import reconfair`` itself imports nothing
(no torch) and the engine's cache keys can read ``__version__`` from here.

>>> import reconfair
>>> sorted(set(reconfair.__all__) - {"__version__"})
['evaluate', 'load_config', 'run_study']
"""

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "load_config", "run_study"]

_API = ("evaluate", "load_config", "run_study")


def __getattr__(name: str):
    """``reconfair.run_study`` and the other API names: imported from :mod:`reconfair.api` on first use."""
    if name in _API:
        from reconfair import api

        value = getattr(api, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'reconfair' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
