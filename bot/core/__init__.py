"""The product's rules: incidents, actions, identity, directory lookups. Knows neither HTTP nor Slack."""
