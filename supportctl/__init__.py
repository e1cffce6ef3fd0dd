"""supportctl: register and activate a support contract from the command line."""

__version__ = "0.1.0"
