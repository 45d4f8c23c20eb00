"""`divoom-hub check`: every endpoint the config names, reached once, one line each
(`report`), and the Discord bot's permissions (`discord`)."""
