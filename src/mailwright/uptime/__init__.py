"""Uptime: each running role's own health-check history per node, and the success rate of
each HTTP endpoint; availability arithmetic in ``availability.py``."""

from mailwright.uptime.availability import Check, WindowCounts, hourly, window_availability
from mailwright.uptime.counters import EndpointCounts, is_error
from mailwright.uptime.monitor import Probe, UptimeConfig, UptimeMonitor
from mailwright.uptime.probes import smtp_greets
from mailwright.uptime.report import (
    WINDOWS,
    EndpointRate,
    RoleUptime,
    endpoint_rates,
    hourly_uptime,
    role_uptime,
)

__all__ = [
    "WINDOWS",
    "Check",
    "EndpointCounts",
    "EndpointRate",
    "Probe",
    "RoleUptime",
    "UptimeConfig",
    "UptimeMonitor",
    "WindowCounts",
    "endpoint_rates",
    "hourly",
    "hourly_uptime",
    "is_error",
    "role_uptime",
    "smtp_greets",
    "window_availability",
]
