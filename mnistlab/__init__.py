"""mnistlab: train, compare and understand networks that read handwritten digits."""

__version__ = "0.1.0"
