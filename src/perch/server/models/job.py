from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.kit.timefmt import utcnow
from perch.server.models.base import Base, CreatedMixin, IdMixin, UTCDateTime


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class Job(IdMixin, CreatedMixin, Base):
    """Durable record of work. The broker only carries job ids; this row is the truth.

    ``dedupe_key`` is unique while a job is pending or running, and cleared when it ends, so
    "at most one sync of mailbox 7 at a time" is a key, not a lock.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_after", "status", "run_after"),)

    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.pending)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    enqueued_by: Mapped[str | None] = mapped_column(String(100), default=None)
    run_by: Mapped[str | None] = mapped_column(String(100), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
