"""EventBridge rule targets: Lambda, Step Functions, SNS, and input shaping for SQS.

moto 5.2.5 ``Rule.send_to_targets`` raises ``NotImplementedError`` for Lambda, Step Functions
and SNS targets, and for the targets it does support (SQS) it honours only
``InputTransformer``: a target's ``Input`` (constant JSON) and ``InputPath`` are ignored and
the whole event is sent (the regression test shows it), and its transformer inserts string
values unquoted (``{"id": <id>}`` renders invalid JSON). Here those four target kinds are
delivered by this module with all three input options; other kinds (log groups, archives,
other buses, API destinations) still go to moto.

Lambda targets are invoked asynchronously (``Event``), as EventBridge does.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from jsonpath_ng.ext import parse as jsonpath
from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
from moto.events.models import Rule

_ORIGINAL = Rule.send_to_targets
_HANDLED = {"lambda", "states", "sns", "sqs"}


def _aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto keeps ``time`` as epoch seconds; targets receive ISO 8601 as on AWS."""
    shaped = copy.deepcopy(event)
    if isinstance(shaped.get("time"), (int, float)):
        shaped["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(shaped["time"]))
    return shaped


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def transform(template: str, paths: dict[str, str], event: dict[str, Any]) -> str:
    """Render an InputTransformer template as EventBridge does.

    A placeholder inside a JSON string gets the raw value; outside it gets the JSON value
    (strings quoted, missing paths ``null``). moto's own parser inserts strings unquoted, so
    ``{"id": <id>}`` became invalid JSON.
    """
    values: dict[str, Any] = {"aws.events.event.json": event}
    for name, path in paths.items():
        found = jsonpath(path).find(event)
        values[name] = found[0].value if found else None
    out: list[str] = []
    in_string, position = False, 0
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in values:
            continue
        chunk = template[position : match.start()]
        in_string ^= (chunk.count('"') - chunk.count('\\"')) % 2 == 1
        value = values[match.group(1)]
        out.append(chunk)
        if in_string:
            out.append(value if isinstance(value, str) else json.dumps(value))
        else:
            out.append(json.dumps(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def render_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The payload a target receives: Input, InputPath, InputTransformer or the event."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        found = jsonpath(target["InputPath"]).find(event)
        return json.dumps(found[0].value if found else None)
    transformer = target.get("InputTransformer")
    if transformer:
        return transform(transformer.get("InputTemplate", ""), transformer.get("InputPathsMap") or {}, event)
    return json.dumps(event)


def _deliver(target: dict[str, Any], payload: str) -> None:
    arn = target["Arn"]
    _, _, service, region, account, resource = arn.split(":", 5)
    if service == "lambda":
        from moto.awslambda.utils import get_backend

        get_backend(account, region).invoke(arn, None, payload, {"x-amz-invocation-type": "Event"}, {})
    elif service == "states":
        from moto.stepfunctions.responses import get_backend as sfn_backend

        sfn_backend(account, region).start_execution(arn, None, payload)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(payload, arn=arn)
    else:
        from moto.sqs.models import sqs_backends

        group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
        sqs_backends[account][region].send_message(resource, payload, group_id=group_id)


def _send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if not self.event_pattern.matches_event(original_event):
        return
    mine = [t for t in self.targets if t["Arn"].split(":")[2] in _HANDLED]
    others = [t for t in self.targets if t not in mine]
    event = _aws_event(original_event)
    for target in mine:
        _deliver(target, render_input(target, event) if transform_input else json.dumps(event))
    if others:
        rest = copy.copy(self)
        rest.targets = others
        _ORIGINAL(rest, original_event, transform_input)


def install() -> None:
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]


def uninstall() -> None:
    Rule.send_to_targets = _ORIGINAL  # type: ignore[method-assign]
