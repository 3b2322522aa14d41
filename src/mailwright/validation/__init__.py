"""Address validation (Mailgun v4): syntax, provider grammar, DNS, SMTP probe, risk signals."""

from mailwright.validation.bulk import PREVIEW_SAMPLE, BulkJobs, BulkWorker, job_summary_fields
from mailwright.validation.grammar import GRAMMARS, Grammar, check
from mailwright.validation.list_jobs import submit_list
from mailwright.validation.service import (
    Prober,
    Validator,
    ValidatorConfig,
    engagement_from,
    mailbox_from,
)
from mailwright.validation.syntax import MAX_INPUT, Address, SyntaxProblem, parse
from mailwright.validation.verdict import Domain, Facts, Mailbox, decide

__all__ = [
    "GRAMMARS",
    "MAX_INPUT",
    "PREVIEW_SAMPLE",
    "Address",
    "BulkJobs",
    "BulkWorker",
    "Domain",
    "Facts",
    "Grammar",
    "Mailbox",
    "Prober",
    "SyntaxProblem",
    "Validator",
    "ValidatorConfig",
    "check",
    "decide",
    "engagement_from",
    "job_summary_fields",
    "mailbox_from",
    "parse",
    "submit_list",
]
