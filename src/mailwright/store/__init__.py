"""Storage: schema, migrations, connections and transactions, and every SQL query.

Imports no other package of ours.
"""

from mailwright.store import (
    credentials,
    dashboard,
    inbound,
    limits,
    lists,
    oauth,
    queries,
    routes,
    schema,
    templates,
    throttles,
)
from mailwright.store.engine import InsertRows, Store, async_url, create_engine
from mailwright.store.records import (
    DeliveryId,
    DeliveryRow,
    DomainRow,
    InboxRow,
    KeyRow,
    MessageKey,
    MessageRow,
)

__all__ = [
    "DeliveryId",
    "DeliveryRow",
    "DomainRow",
    "InboxRow",
    "InsertRows",
    "KeyRow",
    "MessageKey",
    "MessageRow",
    "Store",
    "async_url",
    "create_engine",
    "credentials",
    "dashboard",
    "inbound",
    "limits",
    "lists",
    "oauth",
    "queries",
    "routes",
    "schema",
    "templates",
    "throttles",
]
