"""Inbound mail: the MX and submission listeners, routes, DSN/ARF parsing and the processor
that runs after a message has been stored."""
