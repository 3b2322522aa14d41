"""Inbound mail: the MX and submission listeners, routes, DSN/ARF parsing and the processor
that runs after a message has been stored."""

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

__all__ = [
    "Action",
    "Expression",
    "ForwardAction",
    "Route",
    "RouteInput",
    "RoutePage",
    "Step",
    "StopAction",
    "StoreAction",
    "all_routes",
    "create_route",
    "delete_route",
    "get_route",
    "list_routes",
    "match_route",
    "parse_action",
    "parse_expression",
    "plan",
    "update_route",
]
