"""What other programs report to the hub over HTTP: diagnostics (reports) and
heartbeat pings. Each turns untrusted input into a `Notice` or an `Outcome`."""
