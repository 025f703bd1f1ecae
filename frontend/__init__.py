"""Courier's HTML side: page routes, htmx fragments, and the browser's live socket."""
