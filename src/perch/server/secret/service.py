"""Re-encrypting every stored secret under the first key of PERCH_SECRET_KEYS, online.

Rotation: put a new key first in PERCH_SECRET_KEYS (keep the old ones after it), restart, run
``perch secrets rotate``, then remove the old keys. Every process can decrypt old and new tokens
throughout, so the server keeps serving; each row is swapped in its own small transaction and
only if it was not changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from perch.server.runtime import Runtime
from perch.server.secret import repository

BATCH = 200


@dataclass
class ColumnReport:
    column: str
    rotated: int = 0
    changed_meanwhile: int = 0


async def rotate_all(
    runtime: Runtime, progress: Callable[[ColumnReport], None]
) -> list[ColumnReport]:
    reports = []
    for table, column in repository.encrypted_columns():
        report = ColumnReport(f"{table.name}.{column.name}")
        after_id = 0
        while True:
            async with runtime.session() as session:
                rows = await repository.batch(session, table, column, after_id, BATCH)
                for row_id, token in rows:
                    swapped = await repository.replace(
                        session, table, column, row_id, token, runtime.secrets.rotate(token)
                    )
                    report.rotated += swapped
                    report.changed_meanwhile += not swapped
            if not rows:
                break
            after_id = rows[-1][0]
            progress(report)
        reports.append(report)
    return reports
