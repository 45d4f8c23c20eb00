"""The Discord bot, on discord.py, one module per role:

* `transport`: `BotTransport` sends the outbox's messages to the monitoring channel, and
  is where the other roles meet;
* `session`: the supervised gateway session — connect, reconnect with backoff, and the
  `discord` component's outcomes;
* `status_reply`: `status` and `/status`, answered with the status embed and the
  timeline picture;
* `router`: which role a delivered message is for — a watched channel's counter, the
  display, or the `status` command;
* `settings` and `errors`: what they share — the bot's settings and endpoints, and
  discord.py's failures in the hub's words.

The permission audit of `divoom-hub check` lives beside it, in `hub.check.discord`.

The two channels never mix: a display-channel message is never read as a `status`
command, and nothing posted in the monitoring channel reaches the display.

The token and the channel ids never appear in a log line, an error message or an embed.
"""
