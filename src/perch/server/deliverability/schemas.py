"""What a deliverability check reports, as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel


class DeliverabilityRead(BaseModel):
    spf_correct: bool
    dkim_correct: bool
