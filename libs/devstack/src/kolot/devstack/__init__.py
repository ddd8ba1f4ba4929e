"""Kolot's embedded local stack: NATS with JetStream and a MongoDB-wire server on free ports,
the four services as child processes, and the ``kolot-dev`` command and pytest fixtures on top.
"""

from kolot.devstack._process import DevstackError, free_port
from kolot.devstack.servers import MongoServer, NatsServer
from kolot.devstack.stack import (
    DEFAULT_PORTS,
    SERVICE_NAMES,
    LocalStack,
    ServiceGroup,
    ServiceProcess,
)

__all__ = [
    "DEFAULT_PORTS",
    "SERVICE_NAMES",
    "DevstackError",
    "LocalStack",
    "MongoServer",
    "NatsServer",
    "ServiceGroup",
    "ServiceProcess",
    "free_port",
]
