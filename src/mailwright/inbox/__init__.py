"""The capture inbox: where ``capture`` delivery puts every message, readable over the API."""

from mailwright.inbox.service import delete_items, get_item, item_json, list_items

__all__ = ["delete_items", "get_item", "item_json", "list_items"]
