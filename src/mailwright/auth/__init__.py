"""API keys, SMTP credentials and dashboard users (with single sign-on): creation, hashed
storage, authentication and permissions."""

from mailwright.auth.access import Network, client_address, is_allowed, parse_ranges
from mailwright.auth.credentials import (
    Credential,
    CredentialCache,
    change_password,
    check_password,
    create_credential,
    credential_json,
    delete_credential,
    delete_credentials,
    list_credentials,
)
from mailwright.auth.keys import (
    ENVIRONMENTS,
    ROLES,
    KeyCache,
    Principal,
    create_key,
    delete_key,
    ensure_primary_key,
    key_json,
    list_keys,
    parse_basic,
    regenerate_public_key,
)
from mailwright.auth.limits import RequestLimit, RequestLimiter, RequestLimits, Verdict
from mailwright.auth.oauth import SCOPES, Authority, OAuthClient, client_json
from mailwright.auth.oidc import OidcClient, OidcConfig
from mailwright.auth.users import DashboardSession, DashboardUser, SsoLink, Users

__all__ = [
    "ENVIRONMENTS",
    "ROLES",
    "SCOPES",
    "Authority",
    "Credential",
    "CredentialCache",
    "DashboardSession",
    "DashboardUser",
    "KeyCache",
    "Network",
    "OAuthClient",
    "OidcClient",
    "OidcConfig",
    "Principal",
    "RequestLimit",
    "RequestLimiter",
    "RequestLimits",
    "SsoLink",
    "Users",
    "Verdict",
    "change_password",
    "check_password",
    "client_address",
    "client_json",
    "create_credential",
    "create_key",
    "credential_json",
    "delete_credential",
    "delete_credentials",
    "delete_key",
    "ensure_primary_key",
    "is_allowed",
    "key_json",
    "list_credentials",
    "list_keys",
    "parse_basic",
    "parse_ranges",
    "regenerate_public_key",
]
