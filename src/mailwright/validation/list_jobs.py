"""Mailing-list validations (Mailgun's ``/v3/lists/{address}/validate``): a bulk job of kind
``list`` whose id is the list's address and whose upload is written from its members, read from
the store in keyset pages of ``MEMBER_PAGE`` so memory stays bounded whatever the list's size.
The ``BulkWorker`` of that kind validates it like any bulk job."""

from __future__ import annotations

from mailwright import lists
from mailwright.store import Store
from mailwright.validation.bulk import BulkJobs

MEMBER_PAGE = 2000


async def submit_list(jobs: BulkJobs, store: Store, list_address: str) -> str:
    """Start validating every member (subscribed or not) of the list; answers its address, the
    job's id. An unknown list is a 404, a job for the list still running a 400."""
    address: str = (await lists.get(store, list_address))["address"]
    await jobs.submit_batches(address, lists.member_addresses(store, address, chunk=MEMBER_PAGE))
    return address
