"""Slack listeners: the slash command, card buttons and modal submissions, each a class given what it uses and
registered on a fresh AsyncApp by `bot.slack.app` (no global app, so tests build their own)."""
