"""labelloop: the continuous data loop behind a machine-learning model."""

__version__ = "0.1.0"

__all__ = ["__version__"]
