"""Courier's messaging core and processes: settings, Redis keys, queue, pub/sub, worker, CLI."""
