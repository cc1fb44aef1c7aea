"""Change notifications of ``diag watch``: Alertmanager, Slack incoming webhooks, JSON webhooks."""
