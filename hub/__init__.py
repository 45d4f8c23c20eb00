"""Divoom Hub: the daemon (I/O, wiring, CLI) around the pure machines in `machines/`."""
