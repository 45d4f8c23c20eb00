"""The status web server (aiohttp): the page, its diagram, the JSON and Prometheus
endpoints, and the endpoints that take reports in."""
