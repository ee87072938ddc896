"""The taskiq broker chosen by ``PERCH_BROKER_URL``.

    memory://          in this process (the embedded default)
    redis://host/db    taskiq-redis ListQueueBroker on the list ``PERCH_BROKER_QUEUE``
    amqp://user@host   taskiq-aio-pika on the queue ``PERCH_BROKER_QUEUE``

Only one task exists on the wire, ``perch.run_job(job_id)``; what to do is in the job row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.decor import AsyncTaskiqDecoratedTask

RUN_JOB = "perch.run_job"


class BrokerConfigError(ValueError):
    """The broker URL names a scheme Perch does not support."""


def build_broker(url: str, queue: str) -> AsyncBroker:
    if url.startswith("memory://"):
        return InMemoryBroker(max_async_tasks=200)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from taskiq_redis import ListQueueBroker

        return ListQueueBroker(url, queue_name=queue)
    if url.startswith(("amqp://", "amqps://")):
        return _amqp_broker(url, queue)
    raise BrokerConfigError(f"unsupported PERCH_BROKER_URL scheme: {url.split(':', 1)[0]}")


def _amqp_broker(url: str, queue: str) -> AsyncBroker:
    from taskiq_aio_pika import AioPikaBroker
    from taskiq_aio_pika.exchange import Exchange
    from taskiq_aio_pika.queue import Queue, QueueType

    return AioPikaBroker(
        url,
        exchange=Exchange(name=queue),
        task_queues=[Queue(name=queue, type=QueueType.CLASSIC, routing_key="#")],
        dead_letter_queue=Queue(name=f"{queue}.dead_letter", type=QueueType.CLASSIC),
    )


def register_run_job(
    broker: AsyncBroker, run: Callable[[int], Awaitable[object]]
) -> AsyncTaskiqDecoratedTask[[int], object]:
    async def run_job(job_id: int) -> None:
        await run(job_id)

    return broker.register_task(run_job, task_name=RUN_JOB)
