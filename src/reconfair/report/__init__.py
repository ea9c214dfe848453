"""Figures, tables and summaries built from the per-sample table and metrics."""
