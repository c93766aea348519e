"""notifier: tells requesters, in plain words, that the thing they asked IT for is done."""

__version__ = "0.1.0"
