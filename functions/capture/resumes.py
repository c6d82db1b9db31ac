"""An operator's resume of one order (``POST /orders/{id}/resume``): the reconciler decides and
runs the steps the order is owed, exactly as on its schedule; this use case only says what
that means for the caller. No AWS here."""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.errors import Conflict, Forbidden, NotFound
from functions.core.principal import Principal

from .ports import Resumer, ResumeReport


@dataclass
class Resumes:
    resumer: Resumer

    def resume(self, order_id: str, principal: Principal) -> ResumeReport:
        """The report of the steps started (possibly none: the order waits legitimately).
        NotFound for an unknown order; Conflict for a final order that is owed nothing."""
        if principal.role != "agent":
            raise Forbidden("only an agent may resume an order")
        report = self.resumer.resume(order_id)
        if report is None:
            raise NotFound(f"order {order_id} not found")
        if report.final and not report.steps:
            raise Conflict(f"order {order_id} is {report.status}, a final status: there is nothing to resume")
        return report
