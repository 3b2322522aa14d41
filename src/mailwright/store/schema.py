"""The declared schema: every table mailwright stores, as SQLAlchemy Core ``Table`` objects.

Times are float Unix seconds (Mailgun's event timestamps are floats too), so the same code
runs on SQLite and PostgreSQL. Migrations under ``migrations/versions`` must produce exactly
this schema; ``tests/integration/test_migrations.py`` checks it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

# Mailgun's default unsubscribe footers, appended when unsubscribe tracking is on.
HTML_FOOTER = '\n<br>\n<p><a href="%unsubscribe_url%">unsubscribe</a></p>\n'
TEXT_FOOTER = "\n\nTo unsubscribe click: <%unsubscribe_url%>\n\n"

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
BigId = BigInteger().with_variant(Integer(), "sqlite")

domains = Table(
    "domains",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(253), nullable=False, unique=True),
    Column("type", String(16), nullable=False),  # custom | sandbox
    Column("state", String(16), nullable=False),  # active | unverified | disabled
    Column("created_at", Double, nullable=False),
    Column("spam_action", String(16), nullable=False),
    Column("wildcard", Boolean, nullable=False),
    Column("require_tls", Boolean, nullable=False),
    Column("skip_verification", Boolean, nullable=False),
    Column("web_scheme", String(8), nullable=False),
    Column("web_prefix", String(63), nullable=False),
    Column("dkim_selector", String(63), nullable=False),
    Column("dkim_key_size", Integer, nullable=False),
    Column("dkim_private_key", Text, nullable=False),  # sealed (sealing.py), as every secret
    Column("dkim_public_key", Text, nullable=False),
    # The active Ed25519 key (RFC 8463), signed with beside the RSA key; null: RSA only.
    # Both are copies of the domain's active rows in dkim_keys, written in the same
    # transaction, so signing reads them from the cached domain row with no extra query.
    Column("dkim_ed25519_selector", String(63), nullable=True),
    Column("dkim_ed25519_private_key", Text, nullable=True),
    Column("dkim_ed25519_public_key", Text, nullable=True),
    Column("is_disabled", Boolean, nullable=False),
    # Tracking (Mailgun's /v3/domains/{name}/tracking); o:tracking* options override per message.
    Column("track_opens", Boolean, nullable=False, server_default=false()),
    Column("track_opens_at_top", Boolean, nullable=False, server_default=false()),
    Column("track_clicks", String(8), nullable=False, server_default="no"),  # yes|no|htmlonly
    Column("track_unsubscribes", Boolean, nullable=False, server_default=false()),
    Column("unsubscribe_html_footer", Text, nullable=False, server_default=HTML_FOOTER),
    Column("unsubscribe_text_footer", Text, nullable=False, server_default=TEXT_FOOTER),
)

# Every DKIM key a domain has had: pending (generated, record not verified yet), active (signs),
# retiring (replaced, still published and listed until retire_at), retired (private key erased).
dkim_keys = Table(
    "dkim_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("selector", String(63), nullable=False),
    Column("algorithm", String(16), nullable=False),  # rsa | ed25519
    Column("key_size", Integer, nullable=True),  # RSA bits; null for ed25519
    Column("private_key", Text, nullable=False),  # sealed PEM or base64 seed; "" once retired
    Column("public_key", Text, nullable=False),  # base64, the record's p= tag
    Column("state", String(16), nullable=False),  # pending | active | retiring | retired
    Column("created_at", Double, nullable=False),
    Column("activated_at", Double, nullable=True),
    Column("retire_at", Double, nullable=True),
    Column("grace_seconds", Double, nullable=False),  # how long the replaced key stays published
    # Made by a rotation (automatic or Mailgun's rotate): the worker activates it once its
    # record verifies. A key made by hand waits for activate or the domain's verify.
    Column("is_activated_on_publish", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("domain_id", "selector", name="uq_dkim_keys_domain_selector"),
    Index("ix_dkim_keys_retire_at", "retire_at"),
)

# Automatic DKIM rotation per domain (Mailgun's /v1/dkim_management/domains/{name}/rotation);
# no row: rotation off.
dkim_rotation = Table(
    "dkim_rotation",
    metadata,
    Column(
        "domain_id",
        String(32),
        ForeignKey("domains.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("is_enabled", Boolean, nullable=False),
    Column("interval_seconds", Double, nullable=False),  # rotate once the active key is older
    Column("updated_at", Double, nullable=False),
)

# The latest DNS blocklist answer per (target, zone): our egress addresses and sending domains.
blocklist_results = Table(
    "blocklist_results",
    metadata,
    Column("target", String(253), primary_key=True),  # an IP address or a domain
    Column("zone", String(253), primary_key=True),
    Column("kind", String(8), nullable=False),  # ip | domain
    Column("status", String(8), nullable=False),  # listed | clean | error
    Column("codes", Text, nullable=False),  # the 127.0.0.x answers, comma-separated
    Column("reason", Text, nullable=False),  # the list's TXT, or why the lookup failed
    Column("checked_at", Double, nullable=False),
    Column("listed_since", Double, nullable=True),  # when the current listing was first seen
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),  # sha256 hex of the key
    Column("description", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # user | domain | web
    Column("role", String(16), nullable=False),  # admin | sending | basic | developer
    Column("domain_name", String(253), nullable=True),
    Column("is_primary", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("is_disabled", Boolean, nullable=False),
    Column("requestor", Text, nullable=True),
    Column("user_name", Text, nullable=True),
    Column("secret_hint", String(16), nullable=False),  # last characters, to tell keys apart
    Column("allowed_ips", Text, nullable=True),  # comma-separated CIDRs; NULL: from anywhere
    Column("last_used_at", Double, nullable=True),  # batched, a few seconds behind at most
    # live | test: a test key's sends are captured, never delivered, and it sees test events only
    Column("environment", String(8), nullable=False, server_default="live"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(40), primary_key=True),  # the storage key
    Column("domain", String(253), nullable=False),
    Column("message_id", String(255), nullable=False),  # Message-Id header, no brackets
    Column("sender", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: everything render() needs but blob bytes
    Column("recipients", Text, nullable=False),  # JSON list of envelope recipients
    Column("size", Integer, nullable=False),
    Column("method", String(8), nullable=False),  # http | smtp
    Column("is_test_mode", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("ix_messages_expires_at", "expires_at"),
    Index("ix_messages_message_id", "message_id"),
)

message_blobs = Table(
    "message_blobs",
    metadata,
    Column(
        "message_key", String(40), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("idx", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "message_key", String(40), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False
    ),
    Column("domain", String(253), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("recipient_index", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # queued | delivered | failed
    Column("recipient_domain", String(253), nullable=False, server_default=""),
    Column("due_at", Double, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("last_code", Integer, nullable=True),
    Column("last_message", Text, nullable=True),
    # A mailing-list member's copy: JSON {"list", "name", "vars"} taken when the send was
    # accepted, so a retry renders the same personalisation (None for other deliveries).
    Column("member", Text, nullable=True),
    Index("ix_deliveries_due", "status", "due_at"),
    Index("ix_deliveries_message_key", "message_key"),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("domain", String(253), nullable=False),
    Column("timestamp", Double, nullable=False),
    Column("event", String(32), nullable=False),
    Column("severity", String(16), nullable=True),
    Column("recipient", String(320), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("sender", Text, nullable=False),  # the From header, for the `from` filter
    Column("to", Text, nullable=False),  # the To header, for the `to` filter
    Column("subject", Text, nullable=False),
    Column("tags_key", Text, nullable=False),  # "|tag1|tag2|", lower-cased
    Column("attachments", Text, nullable=False),  # file names joined by "|"
    Column("size", Integer, nullable=False),
    Column("list", String(320), nullable=True),
    Column("payload", Text, nullable=False),  # the event JSON as the API returns it
    # flags.is-test-mode, as a column: test-environment credentials see only these
    Column("is_test_mode", Boolean, nullable=False, server_default=false()),
    Index("ix_events_domain_time", "domain", "timestamp"),
    Index("ix_events_domain_event_time", "domain", "event", "timestamp"),
    Index("ix_events_recipient", "recipient"),  # validation's engagement lookup
    # Events whose To header is kept apart (``event_to_headers``): only these are indexed.
    Index(
        "ix_events_to_apart",
        "message_id",
        sqlite_where=text("\"to\" = ''"),
        postgresql_where=text("\"to\" = ''"),
    ),
)

# A long To header (a message sent to many addresses at once, each of whom sees them all) is
# kept here once per message: each of the message's events, one per recipient and more for
# every later state, then stores an empty ``to`` (column and payload) instead of its own copy,
# and readers fill it in (``events.to_headers``). Without it, 1,000 recipients wrote 1,000
# copies of a 20 KB header per event type (40 GB for a million).
event_to_headers = Table(
    "event_to_headers",
    metadata,
    Column("message_id", String(255), primary_key=True),
    Column("to", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("delivery_id", BigInteger, nullable=False, unique=True),
    Column("message_key", String(40), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("ix_inbox_created", "created_at"),
    Index("ix_inbox_recipient", "recipient"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("domain", String(253), nullable=False),
    Column("kind", String(16), nullable=False),  # bounces | unsubscribes | complaints | whitelists
    Column("address", String(320), nullable=False),  # lower-cased address, or a domain (whitelists)
    Column("type", String(16), nullable=False),  # address | domain (whitelists)
    Column("code", String(8), nullable=True),  # bounces: the SMTP code, as Mailgun's string
    Column("error", Text, nullable=True),  # bounces: the reply text
    Column("tags", Text, nullable=True),  # unsubscribes: JSON list, ["*"] for all
    Column("reason", Text, nullable=True),  # whitelists
    Column("created_at", Double, nullable=False),
    UniqueConstraint("domain", "kind", "address", name="uq_suppressions_domain_kind_address"),
)

# The suppressions of test-environment credentials (issue 12): the same lists, kept apart so a
# test key neither reads nor changes the live ones.
test_suppressions = Table(
    "test_suppressions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("domain", String(253), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("address", String(320), nullable=False),
    Column("type", String(16), nullable=False),
    Column("code", String(8), nullable=True),
    Column("error", Text, nullable=True),
    Column("tags", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("domain", "kind", "address", name="uq_test_suppressions_domain_kind_address"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, nullable=False),
    Column("message_key", String(40), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("started_at", Double, nullable=False),
    Column("session_seconds", Double, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | temporary | permanent
    Column("mx_host", String(253), nullable=False),
    Column("code", Integer, nullable=True),
    Column("enhanced_code", String(16), nullable=True),
    Column("message", Text, nullable=False),
    Column("tls", Boolean, nullable=False),
    Column("certificate_verified", Boolean, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("sending_ip", String(45), nullable=True),  # the egress source; None: system's choice
    Index("ix_attempts_delivery", "delivery_id"),
    Index("ix_attempts_message_key", "message_key"),
)

# Installation-wide values that must survive restarts and be the same in every process: the
# HTTP webhook signing key, the key that signs tracking and unsubscribe links, ... All secret,
# so every value is sealed (``sealing.py``).
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# Mailgun's domain webhooks: one row per (domain, kind, url); a kind has up to 3 URLs, kept in
# the order they were given (``position``).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("domain", String(253), nullable=False),
    Column("kind", String(32), nullable=False),  # accepted | delivered | ... | temporary_fail
    Column("url", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("domain", "kind", "url", name="uq_webhooks_domain_kind_url"),
)

# Mailgun's account webhooks (``/v1/webhooks``): one URL for some event types, fired for the
# events of every domain. ``webhook_id`` is the id the API shows; ``id`` keeps creation order.
account_webhooks = Table(
    "account_webhooks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("webhook_id", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("webhook_id", name="uq_account_webhooks_webhook_id"),
)

# The event types (webhook kinds) of each account webhook: one row per (webhook, kind).
account_webhook_kinds = Table(
    "account_webhook_kinds",
    metadata,
    Column("webhook_id", String(32), primary_key=True),
    Column("kind", String(32), primary_key=True),  # accepted | delivered | ... | temporary_fail
)

# The webhook outbox: one row per (event, webhook URL), written in the event's own transaction
# and claimed by the webhook worker with a lease, as deliveries are.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("endpoint", String(300), nullable=False),  # scheme://host:port, the concurrency key
    Column("payload", Text, nullable=False),  # the event JSON exactly as the events API has it
    Column("status", String(16), nullable=False),  # queued | delivered | dropped | failed
    Column("due_at", Double, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("last_status", Integer, nullable=True),  # HTTP status of the last attempt
    Column("last_error", Text, nullable=True),  # what went wrong, when it did
    Column("last_answer", Text, nullable=True),  # the start of the last response body (1 KB)
    Index("ix_webhook_outbox_due", "status", "due_at"),
    Index("ix_webhook_outbox_created", "created_at"),
)

# Event counters per hour, kept as events are written (never recomputed from events): one row
# per (domain, tag or "" for all, stat such as "delivered.smtp", hour start in Unix seconds).
# They outlive the events; deleting a tag deletes its rows.
stat_counters = Table(
    "stat_counters",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("tag", String(128), primary_key=True),  # lower-cased; "" counts every message
    Column("stat", String(64), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Index("ix_stat_counters_tag_hour", "tag", "hour"),  # account-wide totals
)

# The same counters for test-mode traffic only (sends of ``test`` credentials and
# ``o:testmode``), which ``stat_counters`` counts too: test credentials read only these.
test_stat_counters = Table(
    "test_stat_counters",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("stat", String(64), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Index("ix_test_stat_counters_tag_hour", "tag", "hour"),
)

# Tags of a domain: created by the first accepted message that carries one (lower-cased, as
# Mailgun's tags are case-insensitive).
tags = Table(
    "tags",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("description", Text, nullable=False),
    Column("first_seen", Double, nullable=False),
    Column("last_seen", Double, nullable=False),
)

# Mailgun's stored templates, per domain; the name is unique within the domain (lower-cased).
templates = Table(
    "templates",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("domain", String(253), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("domain", "name", name="uq_templates_domain_name"),
)

# A template's versions; at most one is active (the one sends use without ``t:version``).
template_versions = Table(
    "template_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "template_id",
        String(36),
        ForeignKey("templates.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tag", String(191), nullable=False),
    Column("template", Text, nullable=False),
    Column("engine", String(16), nullable=False),  # handlebars
    Column("mjml", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("headers", Text, nullable=False),  # JSON object, e.g. {"Subject": "..."}
    Column("active", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("template_id", "tag", name="uq_template_versions_template_tag"),
)

# Mailgun's mailing lists (``/v3/lists``); ``address`` is lower-cased and unique.
mailing_lists = Table(
    "mailing_lists",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("address", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("access_level", String(16), nullable=False),  # readonly | members | everyone
    Column("reply_preference", String(16), nullable=False),  # list | sender
    Column("created_at", Double, nullable=False),
)

# One row per (list, lower-cased member address); ``vars`` is a JSON object.
list_members = Table(
    "list_members",
    metadata,
    Column("list_id", BigInteger, primary_key=True, autoincrement=False),
    Column("address", String(320), primary_key=True),
    Column("name", Text, nullable=False),
    Column("vars", Text, nullable=False),
    Column("subscribed", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_list_members_subscribed", "list_id", "subscribed", "address"),
)

# Bulk address validation jobs (``/v4/address/validate/bulk/{id}``); the uploaded list and the
# results are files in the data directory, this row holds status and progress.
validation_jobs = Table(
    "validation_jobs",
    metadata,
    Column("kind", String(16), primary_key=True),  # bulk | preview | list (own id namespaces)
    # the list name the client chose; for kind list, the mailing list's address
    Column("id", String(320), primary_key=True),
    # (uploading ->) created | processing | completed | failed
    Column("status", String(16), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),  # progress heartbeat; stale = worker died
    Column("quantity", Integer, nullable=False),
    Column("records_processed", Integer, nullable=False),
    Column("summary", Text, nullable=False),  # JSON {"result": {...}, "risk": {...}}
    Column("error", Text, nullable=True),
    Index("ix_validation_jobs_status", "kind", "status", "updated_at"),
)

# Mail received by the inbound MX listener, stored before the 250 and processed afterwards
# (routes, DSNs, feedback reports). A row is a small queue item with a lease like deliveries.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", Double, nullable=False),
    Column("peer", String(64), nullable=False),  # the client's IP address
    Column("helo", String(255), nullable=False),
    Column("mail_from", Text, nullable=False),  # "" for the null reverse-path (bounces)
    Column("recipients", Text, nullable=False),  # JSON list of RCPT TO addresses
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # queued | done | failed
    Column("due_at", Double, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", Double, nullable=True),
    Column("updated_at", Double, nullable=False),
    Column("outcome", Text, nullable=True),  # JSON: what processing did, or the last error
    Index("ix_inbound_messages_due", "status", "due_at"),
    Index("ix_inbound_messages_received", "received_at"),
)

# Mailgun's inbound routes (``/v3/routes``), account-wide; ``actions`` is a JSON array of the
# action texts. Evaluated in (priority, created_at) order.
routes = Table(
    "routes",
    metadata,
    Column("id", String(24), primary_key=True),  # 24 hex characters, as Mailgun's
    Column("priority", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("expression", Text, nullable=False),
    Column("actions", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_routes_order", "priority", "created_at"),
)

# SMTP credentials (Mailgun's ``/v3/domains/{domain}/credentials``); ``login`` is the
# lower-cased ``user@domain``, the password a salted scrypt hash (``auth/credentials.py``).
smtp_credentials = Table(
    "smtp_credentials",
    metadata,
    Column("login", String(320), primary_key=True),
    Column("domain", String(253), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index("ix_smtp_credentials_domain", "domain", "login"),
)

# Shared request-rate windows: each API process leases chunks of a window's capacity here so a
# limit holds across processes without a database round trip per request (auth/limits.py).
rate_windows = Table(
    "rate_windows",
    metadata,
    Column("scope", String(300), primary_key=True),  # "key:<id>" | "domain:<name>"
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),
    Column("used", BigInteger, nullable=False),  # capacity leased out by every process
)

# Sending quotas per domain (None = no limit) and what each hour/day used, counted when the
# delivery worker claims a delivery (delivery/quota.py).
sending_quotas = Table(
    "sending_quotas",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("hourly", BigInteger, nullable=True),
    Column("daily", BigInteger, nullable=True),
    Column("updated_at", Double, nullable=False),
)

sending_usage = Table(
    "sending_usage",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("period", String(8), primary_key=True),  # hour | day
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),
    Column("used", BigInteger, nullable=False),
)

# Per-destination-site token buckets shared by every worker process on one database
# (``store/throttles.py``); each worker leases a share of the site's rate from its row.
site_throttles = Table(
    "site_throttles",
    metadata,
    Column("site", String(255), primary_key=True),  # the site name (mx.py) or relay:<host>
    Column("tokens", Double, nullable=False),  # balance; negative = reserved ahead
    Column("updated_at", Double, nullable=False),  # latest refill time (unix seconds)
)

# Dashboard logins (``auth/users.py``), made by ``mailwright users create``: an argon2id
# password hash and, with two-factor authentication, the base32 TOTP secret, sealed (it must be
# read back, unlike the password). ``totp_last_step`` is the newest
# TOTP time step accepted, so a code cannot be used twice.
dashboard_users = Table(
    "dashboard_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("totp_secret", Text, nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# Signed-in dashboard sessions, keyed by the SHA-256 of the cookie token (never the token).
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id", String(32), ForeignKey("dashboard_users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("is_verified", Boolean, nullable=False),
    Column("totp_failures", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("ix_dashboard_sessions_user", "user_id"),
    Index("ix_dashboard_sessions_expires", "expires_at"),
)

# Failed dashboard logins per username in the current window, shared by every process.
dashboard_login_failures = Table(
    "dashboard_login_failures",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", Double, nullable=False),
)

# A dashboard user's identity at an OpenID Connect provider: once linked, SSO logins map by
# (issuer, subject), which the provider never reassigns, not by a changeable email claim.
dashboard_identities = Table(
    "dashboard_identities",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column(
        "user_id", String(32), ForeignKey("dashboard_users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("issuer", "user_id", name="uq_dashboard_identities_user"),
)

# SSO logins under way: state (its SHA-256 only), nonce, PKCE verifier and where to go after;
# each row is used once by the callback, and lives a few minutes.
dashboard_sso_logins = Table(
    "dashboard_sso_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_path", Text, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("ix_dashboard_sso_logins_expires", "expires_at"),
)

# IP pools (Mailgun's ``/v3/ip_pools``): named groups of egress source addresses. The addresses
# themselves are configuration (MAILWRIGHT_EGRESS_SOURCES); these rows only group and assign them.
ip_pools = Table(
    "ip_pools",
    metadata,
    Column("pool_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)

ip_pool_ips = Table(
    "ip_pool_ips",
    metadata,
    Column(
        "pool_id", String(32), ForeignKey("ip_pools.pool_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("ip", String(45), primary_key=True),
)

# Egress addresses assigned to one sending domain (``/v3/domains/{d}/ips``).
domain_ips = Table(
    "domain_ips",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column("ip", String(45), primary_key=True),
)

# The pool a sending domain uses (at most one, as in Mailgun).
domain_ip_pools = Table(
    "domain_ip_pools",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column(
        "pool_id", String(32), ForeignKey("ip_pools.pool_id", ondelete="CASCADE"), nullable=False
    ),
)

# Egress addresses in warm-up: since when, and what each sent on its latest UTC day
# (delivery/warmup.py decides the allowance from these).
ip_warmups = Table(
    "ip_warmups",
    metadata,
    Column("ip", String(45), primary_key=True),
    Column("started_at", Double, nullable=False),
    Column("day", BigInteger, nullable=False),  # warm-up day (days since the start) of ``sent``
    Column("sent", BigInteger, nullable=False),
    Column("hour", BigInteger, nullable=False),  # warm-up hour of ``hour_sent``
    Column("hour_sent", BigInteger, nullable=False),
)

# OAuth 2.0 clients (client-credentials grant, ``auth/oauth.py``). The secret is stored as its
# SHA-256, like API keys; ``scopes`` is space-separated (send, read, manage).
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(40), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("domain_name", String(253), nullable=True),  # NULL: every domain
    Column("environment", String(8), nullable=False),  # live | test
    Column("created_at", Double, nullable=False),
)

# Keys that sign access tokens. The newest one not retired signs; retired keys still verify
# (and stay in the JWKS) until every token they signed has expired. The private key is a sealed
# PEM.
oauth_signing_keys = Table(
    "oauth_signing_keys",
    metadata,
    Column("kid", String(40), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("retired_at", Double, nullable=True),
)

# Revoked access tokens (RFC 7009), kept until they would have expired anyway.
oauth_revoked_tokens = Table(
    "oauth_revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", Double, nullable=False),
    Index("ix_oauth_revoked_tokens_expires", "expires_at"),
)

# Each running role's own health check, one row per check (every MAILWRIGHT_UPTIME_INTERVAL
# seconds per node and role), kept MAILWRIGHT_UPTIME_RETENTION_DAYS. An ok check vouches for
# ``interval`` seconds; availability is the vouched-for share of the time (uptime/).
uptime_checks = Table(
    "uptime_checks",
    metadata,
    Column("node", String(253), primary_key=True),  # MAILWRIGHT_NODE_NAME
    Column("role", String(16), primary_key=True),  # api | smtp | worker
    Column("checked_at", Double, primary_key=True),
    Column("is_ok", Boolean, nullable=False),
    Column("latency_ms", Double, nullable=False),
    Column("interval", Double, nullable=False),  # seconds until the next check is due
    Column("detail", Text, nullable=False),  # what failed ("" when ok)
    Index("ix_uptime_checks_checked_at", "checked_at"),
)

# HTTP requests per node, endpoint (method and route template) and hour, counted in memory
# and added here every uptime interval; ``errors`` are the 5xx answers.
endpoint_requests = Table(
    "endpoint_requests",
    metadata,
    Column("node", String(253), primary_key=True),
    Column("method", String(8), primary_key=True),
    Column("route", String(300), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Index("ix_endpoint_requests_hour", "hour"),
)
