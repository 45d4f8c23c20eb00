"""The hub's one SQLite file under `state_dir`: opening it (and setting a damaged one
aside) and the journal of the machines. The outbox is `hub.notify.outbox`."""
