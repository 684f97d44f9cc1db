"""Thin functions between the schema and the loaders: arguments in, rows out."""
