"""Maintenance tools for supportctl developers; never part of the wheel."""
