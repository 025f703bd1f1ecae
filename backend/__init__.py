"""Courier: a crash-safe Redis job queue and Redis pub/sub, side by side, over WebSockets.

The tree shows the layers: `core` (the Redis data model), `sessions` (WebSocket sessions without
a web framework), `web` (FastAPI), `procs` (worker, subscriber, supervisor) and `bench`. What a
user's own tasks need is importable from here: `from backend import task, TaskContext, TaskError`.
"""

from backend.core.tasks import TaskContext, TaskError, task

__all__ = ["TaskContext", "TaskError", "task"]
