"""EventBridge rule targets: Lambda, Step Functions, SNS, Firehose, and input shaping for SQS.

moto 5.2.5 ``Rule.send_to_targets`` raises ``NotImplementedError`` for Lambda, Step Functions
and SNS targets, silently drops Firehose targets (a delivery stream gets nothing), and for the
targets it does support (SQS) it honours only
``InputTransformer``: a target's ``Input`` (constant JSON) and ``InputPath`` are ignored and
the whole event is sent (the regression test shows it), and its transformer inserts string
values unquoted (``{"id": <id>}`` renders invalid JSON). Here those five target kinds are
delivered by this module with all three input options; other kinds (log groups, archives,
other buses, API destinations) still go to moto.

A Firehose target gets one ``PutRecord`` per event, the record being the payload (by default the
whole event, one line of JSON: EventBridge adds no delimiter; the stream's processors may). A
delivery that fails goes to the target's ``DeadLetterConfig`` queue, as EventBridge does after its
retries (here at once: no retry budget to wait out locally).

Lambda targets are invoked asynchronously (``Event``), as EventBridge does. Step Functions
targets are started without an execution name, as EventBridge does (``stepfunctions_names``
gives them one).

The OMS template has no ``AWS::Events::Rule`` yet: this is in place for the lifecycle and
notify issues, whose rules will route the bus's events to SQS queues and Step Functions
through it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from jsonpath_ng.ext import parse as jsonpath
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
from moto.events.models import Rule
from moto.firehose.models import firehose_backends
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.utilities.arns import parse_arn

from functions.core import clock
from localcloud.destinations import deliver

_ORIGINAL = Rule.send_to_targets
_HANDLED = {"lambda", "states", "sns", "sqs", "firehose"}


def _aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto keeps ``time`` as epoch seconds; targets receive ISO 8601 as on AWS. The time is the
    use cases' clock (``/_local/clock`` moves it): on AWS EventBridge receives an event seconds
    after its ``occurred_at``, so locally the two agree too (the finance archive keeps both)."""
    shaped = copy.deepcopy(event)
    if isinstance(shaped.get("time"), (int, float)):
        received = utcfromtimestamp(shaped["time"]) + clock.offset()
        shaped["time"] = iso_8601_datetime_without_milliseconds(received)
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
    parsed = parse_arn(arn)
    if parsed.service == "lambda":
        lambda_backend(parsed.account, parsed.region).invoke(arn, None, payload, {"x-amz-invocation-type": "Event"}, {})
    elif parsed.service == "states":
        sfn_backend(parsed.account, parsed.region).start_execution(arn, None, payload)
    elif parsed.service == "firehose":
        stream = parsed.resource_id.split("/", 1)[-1]  # deliverystream/<name>
        try:
            firehose_backends[parsed.account][parsed.region].put_record(stream, {"Data": payload.encode()})
        except Exception:
            dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
            if not dead_letter:
                raise
            deliver(dead_letter, payload)
    else:
        deliver(arn, payload, group_id=(target.get("SqsParameters") or {}).get("MessageGroupId"))


def _send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if not self.event_pattern.matches_event(original_event):
        return
    mine = [t for t in self.targets if parse_arn(t["Arn"]).service in _HANDLED]
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
