"""Storage: schema, migrations, connections and transactions, and every SQL query.

Imports no other package of ours.
"""

from mailwright.store import (
    analytics,
    blocklists,
    credentials,
    dashboard,
    dkim_keys,
    health,
    inbound,
    limits,
    lists,
    oauth,
    pools,
    queries,
    routes,
    schema,
    sealed,
    templates,
    throttles,
    uptime,
)
from mailwright.store.engine import InsertRows, Store, async_url, create_engine
from mailwright.store.health import Backlog
from mailwright.store.records import (
    BlocklistRow,
    DeliveryId,
    DeliveryRow,
    DkimKeyRow,
    DkimRotationRow,
    DomainRow,
    InboxRow,
    KeyRow,
    MessageKey,
    MessageRow,
)
from mailwright.store.sealing import Keyring, MissingKey, SealError

__all__ = [
    "Backlog",
    "BlocklistRow",
    "DeliveryId",
    "DeliveryRow",
    "DkimKeyRow",
    "DkimRotationRow",
    "DomainRow",
    "InboxRow",
    "InsertRows",
    "KeyRow",
    "Keyring",
    "MessageKey",
    "MessageRow",
    "MissingKey",
    "SealError",
    "Store",
    "analytics",
    "async_url",
    "blocklists",
    "create_engine",
    "credentials",
    "dashboard",
    "dkim_keys",
    "health",
    "inbound",
    "limits",
    "lists",
    "oauth",
    "pools",
    "queries",
    "routes",
    "schema",
    "sealed",
    "templates",
    "throttles",
    "uptime",
]
