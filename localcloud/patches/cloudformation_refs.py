"""CloudFormation ``Ref`` of an EventBridge bus or an API Gateway deployment yields its id.

moto 5.2.5's ``EventBus`` and ``apigateway.Deployment`` models have no
``physical_resource_id``, so ``{"Ref": "Bus"}`` resolves to the Python object: an
``AWS::Events::Rule`` with ``EventBusName: {Ref: Bus}`` (what CDK writes) crashes the stack with
``'EventBus' object has no attribute 'split'``, and a Stage's ``DeploymentId: {Ref: Dep}`` gets
the object instead of the id. On AWS, ``Ref`` returns the bus name and the deployment id.
"""

from __future__ import annotations

from moto.apigateway.models import Deployment
from moto.events.models import EventBus


def _bus_name(self: EventBus) -> str:
    return self.name


def _deployment_id(self: Deployment) -> str:
    return str(self.id)


def install() -> None:
    EventBus.physical_resource_id = property(_bus_name)  # type: ignore[attr-defined]
    Deployment.physical_resource_id = property(_deployment_id)  # type: ignore[attr-defined]
