"""Figures, tables, the headline summary and the self-contained HTML report of a run directory.

``write_report(run_dir)`` regenerates everything from ``samples.parquet`` and
``metrics/`` (plus ``config.yaml``, ``manifest.json``, ``examples/``); see
docs/report.md.
"""

from reconfair.report.build import write_report
from reconfair.report.rundata import RunDirectoryError

__all__ = ["write_report", "RunDirectoryError"]
