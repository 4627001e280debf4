"""Slack adapter: command grammar, Block Kit rendering and listeners."""
