"""The VictorOps adapter: HTTP client, typed models, errors and client-side budgets. Knows nothing of Slack."""
