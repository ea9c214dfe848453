"""Running a study: data, models, conditions, the per-sample table, metrics, report."""
