"""The statistical report and the anonymised export: computed from projections, rendered as
JSON, CSV and HTML."""
