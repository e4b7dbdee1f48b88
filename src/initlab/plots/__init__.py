"""Figures (matplotlib is imported here only, inside the functions that draw)."""
