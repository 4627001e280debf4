"""Local fakes of the outside services: a stateful VictorOps simulator, its seed data, and a helper to serve
any ASGI app on a loopback port."""
