"""WebSocket sessions, independent of any web framework: protocol, dispatch, the event hub."""
