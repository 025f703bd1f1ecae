"""The peers `courier bench peers` compares Courier with, as their own documentation uses them.

Each module here runs inside that peer's own virtual environment (see backend.bench.peers_envs),
by file or as a top-level module with this folder on the path, never imported by Courier: its
job queue or chat on one side, and for the queues the producer's side that `peer_drive` drives.
They import nothing from Courier, whose own dependencies a peer's environment does not have.
"""
