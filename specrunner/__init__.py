"""specrunner: run Ocean Protocol Compute-to-Data jobs from version-controlled YAML specs."""

__version__ = "0.1.0"
