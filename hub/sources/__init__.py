"""Sources: blocking I/O that turns what it sees into `Outcome`s and never raises."""
