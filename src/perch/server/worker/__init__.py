"""Jobs: durable rows in the database, delivered by a taskiq broker, run idempotently.

- ``registry``: ``@jobs.job("mailbox.verify_batch")`` and ``@jobs.periodic(...)`` declarations.
- ``queue``: ``enqueue(session, kind, payload)`` writes the row; the id goes to the broker after
  the surrounding transaction commits.
- ``runner``: claims a job (atomically), runs it with a heartbeat, records the outcome.
- ``scheduler``: one leader at a time (a lease row) re-delivers due and abandoned jobs and runs
  periodic producers.
- ``broker``: the taskiq broker picked by ``PERCH_BROKER_URL``.
"""
