"""Agents as users: the MCP server over the same search stack, entries and write service."""
