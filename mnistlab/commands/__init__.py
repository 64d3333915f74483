"""One module per `mnistlab` sub-command; each has `add_parser` and `run`."""
