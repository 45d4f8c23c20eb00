"""The hub among others: its incidents forwarded to Alertmanager (`alertmanager`,
`forward`), and Alertmanager's alerts received from its webhook (`received`)."""
