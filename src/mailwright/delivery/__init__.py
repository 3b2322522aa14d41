"""Outbound engine: claim due deliveries and deliver them (capture mode in this release)."""

from mailwright.delivery.worker import DeliveryWorker, WorkerConfig

__all__ = ["DeliveryWorker", "WorkerConfig"]
