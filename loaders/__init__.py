"""Loaders: the only code that reads source databases and files; returns canonical frames."""
