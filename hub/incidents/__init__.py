"""Incidents in the running hub: the notification policy on the scheduler (`runner`), its
journal (`store`), and what operators do to it (`operations`, `commands`)."""
