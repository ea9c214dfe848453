"""Model replicates: the spread of a change over K independently trained models.

With ``replicates: K > 1`` the run writes ``metrics/replicates_fairness.csv``
(one row per replicate, a ``replicate`` column) beside ``fairness.csv`` (the
rows combined over replicates, with ``delta_sd_replicates`` and
``n_replicates``).  :func:`with_replicate_spread` fills those two columns from
the replicate file when ``fairness.csv`` lacks them; :func:`replicate_table`
lays the per-replicate changes of the main metric beside the combined one;
:func:`plot_replicates` draws them (figure 7: dots per replicate, the combined
estimate with its CI).

Examples
--------
>>> import pandas as pd
>>> reps = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t", "condition": "x@1/u",
...     "attribute": "sex", "metric": "eodd", "replicate": [0, 1, 2], "delta": [0.1, 0.2, 0.3]})
>>> fair = reps.iloc[:1].drop(columns="replicate").assign(delta=0.2)
>>> row = with_replicate_spread(fair, reps).iloc[0]
>>> round(float(row["delta_sd_replicates"]), 12), int(row["n_replicates"])
(0.1, 3)
>>> replicate_table(reps, fair)[["delta", "delta_replicate_0", "delta_replicate_2"]].values.tolist()
[[0.2, 0.1, 0.3]]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.labels import FAIRNESS_METRIC, METRIC_NAMES
from reconfair.report.style import GREY, pyplot, save
from reconfair.vocabulary import ORIGINAL

KEYS = ("dataset", "task", "target", "condition", "attribute", "metric")
"""The columns that identify one change (the condition name holds recon, degradation, level, mitigation)."""
REPLICATE = "replicate"


def _keys(*tables: pd.DataFrame) -> list[str]:
    return [k for k in KEYS if all(k in t.columns for t in tables)]


def _main(table: pd.DataFrame) -> pd.DataFrame:
    rows = table[[FAIRNESS_METRIC.get(t) == m for t, m in zip(table["task"], table["metric"])]]
    return rows[rows["condition"] != ORIGINAL]


def replicate_count(fairness: pd.DataFrame, replicates: pd.DataFrame | None) -> int:
    """K: the number of model replicates (1 without a replicate file or ``n_replicates`` column)."""
    if replicates is not None and REPLICATE in replicates.columns and not replicates.empty:
        return int(replicates[REPLICATE].nunique())
    if "n_replicates" in fairness.columns:
        counts = fairness["n_replicates"].to_numpy(dtype=float)
        counts = counts[np.isfinite(counts)]
        return int(counts.max()) if counts.size else 1
    return 1


def with_replicate_spread(fairness: pd.DataFrame, replicates: pd.DataFrame | None) -> pd.DataFrame:
    """``fairness`` with ``delta_sd_replicates`` (sd, ddof 1, of the finite per-replicate changes) and
    ``n_replicates``, computed from ``replicates`` when the columns are absent; unchanged otherwise."""
    if replicates is None or replicates.empty or REPLICATE not in replicates.columns:
        return fairness
    if {"delta_sd_replicates", "n_replicates"} <= set(fairness.columns):
        return fairness
    keys = _keys(fairness, replicates)
    grouped = replicates.groupby(keys, sort=False, dropna=False)
    spread = pd.DataFrame({
        "delta_sd_replicates": grouped["delta"].agg(lambda d: d.dropna().std(ddof=1) if d.notna().sum() > 1
                                                    else np.nan),
        "n_replicates": grouped[REPLICATE].nunique(),
    }).reset_index()
    out = fairness.drop(columns=[c for c in ("delta_sd_replicates", "n_replicates") if c in fairness.columns])
    return out.merge(spread, on=keys, how="left")


def replicate_table(replicates: pd.DataFrame, fairness: pd.DataFrame) -> pd.DataFrame:
    """Main-metric changes: the combined ``delta`` [CI], its sd over replicates and one column per replicate."""
    reps = _main(replicates)
    keys = _keys(reps, fairness)
    wide = reps.pivot_table(index=keys, columns=REPLICATE, values="delta", aggfunc="first", dropna=False)
    wide.columns = [f"delta_replicate_{r}" for r in wide.columns]
    combined = with_replicate_spread(_main(fairness), replicates)
    shown = [c for c in ("delta", "ci_low", "ci_high", "delta_sd_replicates", "n_replicates")
             if c in combined.columns]
    out = combined[[*keys, *shown]].merge(wide.reset_index(), on=keys, how="inner")
    return out.reset_index(drop=True)


def plot_replicates(replicates: pd.DataFrame, fairness: pd.DataFrame, *, dataset: str, task: str,
                    attributes: Sequence[str], condition_order: Sequence[str], out_dir: str | Path) -> Path | None:
    """Figure 7: the main metric's change per replicate (grey dots) beside the combined estimate
    (black diamond, its 95 % CI as a line), per target x condition, one panel per attribute.

    In the SVG the dots have ids ``replicate-<attribute>-<row>-<replicate>``, the
    combined estimates ``combined-<attribute>-<row>`` (row: position from the top).

    Returns ``None`` when the data set and task have no replicate rows.
    """
    reps = _main(replicates)
    reps = reps[(reps["dataset"] == dataset) & (reps["task"] == task)]
    if reps.empty:
        return None
    combined = _main(fairness)
    combined = combined[(combined["dataset"] == dataset) & (combined["task"] == task)]
    order = {c: i for i, c in enumerate(condition_order)}
    keys = reps[["target", "condition"]].drop_duplicates()
    keys = keys.assign(_rank=keys["condition"].map(lambda c: order.get(c, len(order))))
    keys = keys.sort_values(["target", "_rank"], kind="stable")[["target", "condition"]]
    position = {key: i for i, key in enumerate(keys.itertuples(index=False, name=None))}
    labels = [f"{t} · {c.split('@', 1)[-1]}" for t, c in position]
    metric = METRIC_NAMES[FAIRNESS_METRIC[task]]
    shown = [a for a in attributes if (reps["attribute"] == a).any()] or list(dict.fromkeys(reps["attribute"]))
    with pyplot() as plt:
        fig, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown) + 1.6, 0.9 + 0.18 * len(position)),
                                 sharey=True, squeeze=False)
        for ax, attribute in zip(axes[0], shown):
            mine = reps[reps["attribute"] == attribute]
            for record in mine.itertuples(index=False):
                if np.isfinite(record.delta):
                    y = position[(record.target, record.condition)]
                    ax.plot(record.delta, y + 0.18, "o", markersize=2.5, color=GREY,
                            gid=f"replicate-{attribute}-{y}-{record.replicate}")
            for record in combined[combined["attribute"] == attribute].itertuples(index=False):
                y = position.get((record.target, record.condition))
                if y is None or not np.isfinite(record.delta):
                    continue
                low, high = getattr(record, "ci_low", np.nan), getattr(record, "ci_high", np.nan)
                if np.isfinite(low) and np.isfinite(high):
                    ax.hlines(y, low, high, color="black", linewidth=1).set_gid(f"combined-ci-{attribute}-{y}")
                ax.plot(record.delta, y, "D", markersize=3.5, color="black", gid=f"combined-{attribute}-{y}")
            ax.axvline(0, color=GREY, linewidth=0.8)
            ax.set_title(attribute)
            ax.set_xlabel(f"Δ {metric}")
        axes[0, 0].set_yticks(range(len(labels)), labels, fontsize=6)
        axes[0, 0].invert_yaxis()
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=GREY, label="one replicate"),
                   plt.Line2D([], [], marker="D", linestyle="-", color="black", label="combined [95% CI]")]
        axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"{dataset} {task}: change per model replicate", x=0.01, ha="left", fontsize=9)
        fig.tight_layout()
        return save(fig, out_dir, f"replicates_{dataset}_{task}")
