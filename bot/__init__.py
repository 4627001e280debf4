"""vobot: work VictorOps (Splunk On-Call) incidents from Slack."""

__version__ = "0.1.0"
