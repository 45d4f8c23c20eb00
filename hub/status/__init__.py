"""The hub's picture of itself: the immutable status the owner publishes, what it
remembers to draw it (history, timeline), and the liveness read from it."""
