"""Engagement scoring: a model of rules and grades, scores recomputed in SQL, grade groups."""
