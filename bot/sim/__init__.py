"""Local fakes of the outside services: a stateful VictorOps simulator, its seed data, the Slack fake, the demo,
and a helper to serve any ASGI app on a loopback port.

For development only: the wheel and the Docker image leave this package out (pyproject.toml), and the product
never imports it (an import-linter contract); `vobot demo` and `vobot victorops-sim` need the development install.
"""
