"""The query model: what a person types (`q`, parameters) as one parsed query."""
