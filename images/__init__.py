"""Bundled sample images; see SOURCES.md for where each came from and its licence."""
