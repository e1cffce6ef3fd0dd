"""Build helpers for the bundled default document package (see forms/README.md).

Only `forms/build.py` imports this package; supportctl itself never does.
"""
