"""Operating-system processes: role plumbing, worker, subscriber, supervisor, redis-server."""
