"""Inbound mail: the MX and submission listeners, routes, DSN/ARF parsing and the processor
that runs after a message has been stored."""

from mailwright.inbound.certificate import ensure_self_signed, server_tls_context
from mailwright.inbound.handling import Inbound, InboundConfig, RecipientCheck, RouteCache
from mailwright.inbound.headers import split_controls
from mailwright.inbound.listener import Listener, start_smtp
from mailwright.inbound.parse import InboundMessage, parse_inbound, stored_json
from mailwright.inbound.processor import InboundWorker, ProcessorConfig, received_backlog
from mailwright.inbound.route_store import (
    RouteInput,
    RoutePage,
    all_routes,
    create_route,
    delete_route,
    get_route,
    list_routes,
    match_route,
    update_route,
)
from mailwright.inbound.routes import (
    Action,
    Expression,
    ForwardAction,
    Route,
    Step,
    StopAction,
    StoreAction,
    parse_action,
    parse_expression,
    plan,
)
from mailwright.inbound.senders import is_sender_allowed
from mailwright.inbound.server import MxHandler
from mailwright.inbound.submission import SubmissionConfig, SubmissionHandler, is_loopback

__all__ = [
    "Action",
    "Expression",
    "ForwardAction",
    "Inbound",
    "InboundConfig",
    "InboundMessage",
    "InboundWorker",
    "Listener",
    "MxHandler",
    "ProcessorConfig",
    "RecipientCheck",
    "Route",
    "RouteCache",
    "RouteInput",
    "RoutePage",
    "Step",
    "StopAction",
    "StoreAction",
    "SubmissionConfig",
    "SubmissionHandler",
    "all_routes",
    "create_route",
    "delete_route",
    "ensure_self_signed",
    "get_route",
    "is_loopback",
    "is_sender_allowed",
    "list_routes",
    "match_route",
    "parse_action",
    "parse_expression",
    "parse_inbound",
    "plan",
    "received_backlog",
    "server_tls_context",
    "split_controls",
    "start_smtp",
    "stored_json",
    "update_route",
]
