"""The ``report:`` block: what of the patients' data the report may show (``docs/report.md``).

``examples``: whether figure 6 embeds example images (test images of
patients, clean, degraded and reconstructed); ``ids``: whether the sample ids
the report shows are kept or replaced by :func:`shown_id`'s hash.  Left unset
(``None``), both follow the data: synthetic studies show the examples with
their ids; as soon as one data set is real (has a ``source``), the report
embeds no example images and hashes ids, so it can leave the hospital.
:func:`resolve_report` is the one place that decides; the engine (whether to
plan the ``examples`` stage) and the report (figure 6) both ask it.

Examples
--------
>>> resolve_report(ReportConfig(), real_data=True)
ReportConfig(examples=False, ids='hash')
>>> resolve_report({"ids": "keep"}, real_data=True)
ReportConfig(examples=False, ids='keep')
>>> resolve_report(None, real_data=False)
ReportConfig(examples=True, ids='keep')
>>> shown_id("img-P00", ids="hash"), shown_id("img-P00", ids="keep")
('73934c1defb5', 'img-P00')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from reconfair.config.base import Frozen

__all__ = ["HASH_LENGTH", "ReportConfig", "resolve_report", "shown_id"]

HASH_LENGTH = 12
"""Hex digits of a hashed sample id: 48 bits, so two of n ids collide with probability about n² / 2⁴⁹."""


class ReportConfig(Frozen):
    """What the report shows of the data; ``None`` is the default by data (see :func:`resolve_report`)."""

    examples: bool | None = None
    """Embed figure 6's example images; default: true for synthetic data, false when any data set is real."""
    ids: Literal["keep", "hash"] | None = None
    """Sample ids as they are (``keep``) or as :func:`shown_id` hashes them (``hash``); default: ``keep``
    for synthetic data, ``hash`` when any data set is real."""


def resolve_report(report: ReportConfig | Mapping[str, Any] | None, *, real_data: bool) -> ReportConfig:
    """The effective report settings (no ``None``) for a study with or without real data.

    ``report`` is a study's :class:`ReportConfig`, or the ``report`` mapping of
    a run's ``config.yaml`` (``None`` or absent in runs written before the
    block existed: the defaults by data).  ``real_data``: whether any data set
    has a ``source``.
    """
    settings = report if isinstance(report, ReportConfig) else ReportConfig.model_validate(dict(report or {}))
    return ReportConfig(
        examples=(not real_data) if settings.examples is None else settings.examples,
        ids=settings.ids if settings.ids is not None else ("hash" if real_data else "keep"),
    )


def shown_id(sample_id: str, *, ids: Literal["keep", "hash"]) -> str:
    """A sample id as the report shows it: unchanged, or the first 12 hex digits of its SHA-256 (UTF-8).

    The hash is unsalted: whoever holds the data can compute it to find a
    sample the report names, and so can anyone able to guess the ids (paths
    with patient numbers can be enumerated).  It keeps file paths and patient
    numbers out of the report; it does not make ids anonymous.
    """
    if ids == "keep":
        return str(sample_id)
    if ids == "hash":
        return hashlib.sha256(str(sample_id).encode("utf-8")).hexdigest()[:HASH_LENGTH]
    raise ValueError(f"ids: expected 'keep' or 'hash', got {ids!r}")
