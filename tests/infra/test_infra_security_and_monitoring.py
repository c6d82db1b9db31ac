"""Least privilege per function role, an alarm on every asynchronous path, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Validations
from cfn_template import actions_of, function_by_handler, only, policy_statements, resources
from cfnlint.api import ManualArgs, lint

from functions.core.adapters.keys import PARTITIONS
from infra.config import CONFIGS, ENVIRONMENTS
from infra.nag import WILDCARD_ACTIONS, WILDCARD_FINDING

pytestmark = pytest.mark.infra

HANDLERS = "functions.{}.handlers.{}.lambda_handler"
ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY  # "aws:cdk:acknowledged-rules"


def _role_of(template, handler: str) -> str:
    _, function = function_by_handler(template, handler)
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def _actions(template, role_id: str) -> set[str]:
    return {action for s in policy_statements(template, role_id) for action in actions_of(s)}


def test_roles_have_no_managed_policies_and_no_service_wildcards(env_template):
    _, template = env_template
    for role in resources(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            # the one Deny: publishing to an SNS ARN (notify may send text messages only)
            assert statement["Effect"] == "Allow" or actions_of(statement) == ["sns:Publish"], statement
            for action in actions_of(statement):
                assert not action.endswith(":*"), action
                assert action != "dynamodb:Scan"


def test_authorizer_reads_api_key_items_only(env_template):
    _, template = env_template
    role_id = _role_of(template, HANDLERS.format("access", "authorizer"))
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    dynamodb = [s for s in policy_statements(template, role_id) if "dynamodb:" in json.dumps(s["Action"])]
    assert dynamodb == [
        {
            "Action": "dynamodb:GetItem",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APIKEY#*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        }
    ]
    actions = _actions(template, role_id)
    assert not {a for a in actions if a.startswith(("sqs:", "events:", "states:"))}


def test_capture_roles_get_exactly_the_table_actions_their_code_uses(env_template):
    _, template = env_template
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    capture = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    expected = {
        # + a large order's cancel: its parts checked, then each deleted as it is released
        "api": (capture | {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"}, True),
        "intake": (capture, False),
        # starts the workflow and publishes; for a restock, reads and clears SKU# items only
        "stream": ({"dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}, False),
    }
    for module, (table_actions, indexes) in expected.items():
        role_id = _role_of(template, HANDLERS.format("capture", module))
        statements = [s for s in policy_statements(template, role_id)
                      if json.dumps(s["Resource"]).count(table_id) and "dynamodb:" in json.dumps(s["Action"])
                      and "Stream" not in json.dumps(s["Resource"])]
        granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert granted == table_actions, module
        on_indexes = any("/index/" in json.dumps(s["Resource"]) for s in statements)
        assert on_indexes is indexes, module
    for module in expected:
        actions = _actions(template, _role_of(template, HANDLERS.format("capture", module)))
        may_start = module == "stream"
        assert ("states:StartExecution" in actions) is may_start, module
        assert ("events:PutEvents" in actions) is may_start, module
    # the intake function consumes the channels' queues (and dead-letters refused orders to
    # their DLQs, tests/infra/test_infra_data_and_messaging.py); the API never touches SQS
    api_actions = _actions(template, _role_of(template, HANDLERS.format("capture", "api")))
    assert not {a for a in api_actions if a.startswith("sqs:")}


def test_stream_function_starts_only_the_order_workflow(env_template):
    env, template = env_template
    role_id = _role_of(template, HANDLERS.format("capture", "stream"))
    (start,) = [s for s in policy_statements(template, role_id) if "states:StartExecution" in actions_of(s)]
    assert start["Resource"]["Fn::Sub"].endswith(f":stateMachine:oms-{env}-order-fulfillment")
    # the restock runs a backordered order's execution to its end (StartSyncExecution)
    assert sorted(actions_of(start)) == ["states:StartExecution", "states:StartSyncExecution"]
    (restock,) = [s for s in policy_statements(template, role_id) if "dynamodb:DeleteItem" in actions_of(s)]
    assert restock["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SKU#*"]}}
    bus_id, _ = only(template, "AWS::Events::EventBus")
    (put,) = [s for s in policy_statements(template, role_id) if "events:PutEvents" in actions_of(s)]
    assert put["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}


MACHINE_TASKS = {  # state machine name (after oms-<env>-) -> the (capability, module) of each task function
    "order-fulfillment": {("route", "plan"), ("allocate", "reserve"),
                          ("allocate", "backorder"), ("notify", "order_notice")},
    "shipment-invoicing": {("invoice", "invoice_shipment"), ("invoice", "flag")},
    "return-processing": {("invoice", "refund_receipt"), ("invoice", "refund_flag"), ("capture", "exchange")},
}


@pytest.mark.parametrize("machine_name", sorted(MACHINE_TASKS))
def test_state_machine_invokes_only_its_task_functions(env_template, machine_name):
    env, template = env_template
    machines = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert {m["Properties"]["StateMachineName"] for m in machines} == {f"oms-{env}-{n}" for n in MACHINE_TASKS}
    (machine,) = [m for m in machines if m["Properties"]["StateMachineName"] == f"oms-{env}-{machine_name}"]
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    tasks = {function_by_handler(template, HANDLERS.format(c, m))[0] for c, m in MACHINE_TASKS[machine_name]}
    invokes = [s for s in policy_statements(template, role_id) if "lambda:InvokeFunction" in actions_of(s)]
    resources_ = [r for s in invokes for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert {r["Fn::GetAtt"][0] for r in resources_} == tasks
    assert all(r == {"Fn::GetAtt": [r["Fn::GetAtt"][0], "Arn"]} for r in resources_)  # unqualified, no wildcards
    # Nothing but invoking its functions (and the logging / X-Ray actions every machine gets).
    assert {a for a in _actions(template, role_id) if not a.startswith(("logs:", "xray:"))} == {
        "lambda:InvokeFunction"}


def test_every_dead_letter_queue_has_an_alarm_to_the_topic(env_template):
    env, template = env_template
    dlq_ids = set()
    for queue in resources(template, "AWS::SQS::Queue").values():
        if "RedrivePolicy" in queue["Properties"]:
            dlq_ids.add(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        on_failure = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            dlq_ids.add(on_failure["Destination"]["Fn::GetAtt"][0])
    for schedule in resources(template, "AWS::Scheduler::Schedule").values():
        dlq_ids.add(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    for rule in resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            dlq_ids.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    # each feed channel's intake DLQ, the document queue's, the order / notice / invoice streams'
    # on-failure DLQs, the reconciler's schedule's and the finance archive rule's
    assert len(dlq_ids) == len(CONFIGS[env].feed_channels) + 6
    queue_names = {lid: q["Properties"]["QueueName"] for lid, q in resources(template, "AWS::SQS::Queue").items()}
    assert f"oms-{env}-documents-dlq" in {queue_names[d] for d in dlq_ids}
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    alarmed = set()
    for alarm in alarms:
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
                assert alarm["Properties"]["Threshold"] == 0
                alarmed.add(dimension["Value"]["Fn::GetAtt"][0])
    assert alarmed == dlq_ids


def test_alarms_cover_workflow_api_functions_and_notify_the_topic(env_template):
    _, template = env_template
    topic_id, _ = only(template, "AWS::SNS::Topic")
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "IteratorAge"),
    } <= metrics
    p99 = [a for a in alarms if a["MetricName"] == "Duration"]
    assert {a["ExtendedStatistic"] for a in p99} == {"p99"}
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in p99}
    assert watched == {function_by_handler(template, HANDLERS.format(c, "api"))[0]
                       for c in ("platform", "capture", "allocate", "route", "returns", "invoice")}
    authorizer_id, _ = function_by_handler(template, HANDLERS.format("access", "authorizer"))
    (errors,) = [a for a in alarms if a["MetricName"] == "Errors"]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": authorizer_id}}]
    # every stream consumer's lag, and every workflow's failures and time-outs
    iterator_age = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms if a["MetricName"] == "IteratorAge"}
    assert iterator_age == {function_by_handler(template, HANDLERS.format(c, "stream"))[0]
                            for c in ("capture", "notify", "invoice")}
    machines = set(resources(template, "AWS::StepFunctions::StateMachine"))
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        watched = [a["Dimensions"] for a in alarms if a["Namespace"] == "AWS/States" and a["MetricName"] == metric]
        assert sorted(d[0]["Value"]["Ref"] for d in watched) == sorted(machines), metric
    # the stack's rules are on its own bus: their metrics are published per EventBusName and RuleName
    # (an alarm on RuleName alone watches the default bus and never fires)
    bus_id, _ = only(template, "AWS::Events::EventBus")
    rule_names = {r["Properties"]["Name"] for r in resources(template, "AWS::Events::Rule").values()}
    rule_alarms = [a for a in alarms if a["Namespace"] == "AWS/Events"]
    assert rule_alarms
    for alarm in rule_alarms:
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"EventBusName": {"Ref": bus_id}, "RuleName": dimensions["RuleName"]}, alarm
        assert dimensions["RuleName"] in rule_names


Q, G, U, P = "dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"
#: Each invoice function's table actions, each on the partitions its code uses it in (the *_GRANTS
#: and *_ACTIONS of infra/constructs/invoice.py; names in functions/core/adapters/keys.py PARTITIONS).
INVOICE_TABLE_GRANTS: dict[str, dict[str, set[str]]] = {
    # puts only the invoice (the order's partition); reads the counter and the account's terms
    "invoice_shipment": {Q: {"order"}, P: {"order"}, U: {"order", "invoice_counter", "credit"},
                         G: {"invoice_counter", "credit"}},
    "flag": {Q: {"order"}, U: {"order"}, P: {"order"}},
    # on account: the customer's credit and open item are updated, never put or read
    "refund_receipt": {Q: {"order"}, P: {"order"}, U: {"order", "credit_note_counter", "credit"},
                       G: {"credit_note_counter"}},
    "refund_flag": {Q: {"order"}, U: {"order"}, P: {"order"}},
    "stream": {Q: {"order", "credit"}, U: {"order", "credit"}},
    "render_document": {Q: {"order"}, G: {"order"}, P: {"order"}},
    # the only put is a payment, in the customer's partition: no put into any order
    "api": {Q: {"order", "credit"}, G: {"order", "credit"}, U: {"order", "credit"}, P: {"credit"}},
}
#: The indexes an invoice function queries, and in which partitions (functions/core/adapters/keys.py).
INVOICE_INDEX_PARTITIONS = {
    # a month's documents and finance's review list (GSI1), the order of a document's number (GSI2)
    "api": {"GSI1": ["finance_review", "invoices_of_month"], "GSI2": ["document_by_number"]},
}


def test_invoice_roles_get_exactly_the_table_actions_their_code_uses(env_template):
    env, template = env_template
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    for module, grants in INVOICE_TABLE_GRANTS.items():
        role_id = _role_of(template, HANDLERS.format("invoice", module))
        statements = [s for s in policy_statements(template, role_id)
                      if json.dumps(s["Resource"]).count(table_id) and "dynamodb:" in json.dumps(s["Action"])
                      and "Stream" not in json.dumps(s["Resource"])]
        on_table = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}]
        # on the table itself, each action in exactly the partitions it is used in ...
        granted: dict[str, set[str]] = {}
        for statement in on_table:
            patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            for action in actions_of(statement):
                granted.setdefault(action, set()).update([patterns] if isinstance(patterns, str) else patterns)
        assert granted == {action: {PARTITIONS[name][0] for name in names} for action, names in grants.items()}, \
            module
        # ... and only the invoice API queries indexes, each in its own partitions only
        on_indexes = {}
        for statement in statements:
            if statement in on_table:
                continue
            (index,) = [part.removeprefix("/index/") for part in statement["Resource"]["Fn::Join"][1]
                        if isinstance(part, str) and part.startswith("/index/")]
            assert actions_of(statement) == ["dynamodb:Query"], (module, index)
            on_indexes[index] = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert on_indexes == {index: [PARTITIONS[name][0] for name in names]
                              for index, names in INVOICE_INDEX_PARTITIONS.get(module, {}).items()}, module
    queues = {q["Properties"]["QueueName"]: lid for lid, q in resources(template, "AWS::SQS::Queue").items()}
    for module in INVOICE_TABLE_GRANTS:
        role_id = _role_of(template, HANDLERS.format("invoice", module))
        actions = _actions(template, role_id)
        is_stream = module == "stream"
        assert ("states:StartExecution" in actions) is is_stream, module
        assert ("events:PutEvents" in actions) is is_stream, module
        assert not {a for a in actions if a.startswith(("ses:", "sns:"))}, module
        sqs = [s for s in policy_statements(template, role_id) if any(a.startswith("sqs:") for a in actions_of(s))]
        if is_stream:
            # the stream function sends to its own DLQ and queues new documents for rendering
            (send,) = sqs
            assert sorted(send["Resource"], key=json.dumps) == sorted(
                [{"Fn::GetAtt": [queues[f"oms-{env}-invoice-stream-dlq"], "Arn"]},
                 {"Fn::GetAtt": [queues[f"oms-{env}-documents"], "Arn"]}], key=json.dumps)
            assert set(actions_of(send)) == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
        elif module == "render_document":
            # the renderer consumes the document queue (its event source mapping), and sends nowhere
            (receive,) = sqs
            assert receive["Resource"] == {"Fn::GetAtt": [queues[f"oms-{env}-documents"], "Arn"]}
            assert set(actions_of(receive)) == {"sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
                                                "sqs:GetQueueUrl"}
        else:
            # the workflow tasks and the invoice API touch no queue
            assert sqs == [], module


def test_invoice_stream_starts_only_the_invoicing_and_return_workflows(env_template):
    env, template = env_template
    role_id = _role_of(template, HANDLERS.format("invoice", "stream"))
    (start,) = [s for s in policy_statements(template, role_id) if "states:StartExecution" in actions_of(s)]
    assert actions_of(start) == ["states:StartExecution"]
    assert sorted(start["Resource"], key=json.dumps) == [{
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        f"oms-{env}-{name}"} for name in ("return-processing", "shipment-invoicing")]
    bus_id, _ = only(template, "AWS::Events::EventBus")
    (put,) = [s for s in policy_statements(template, role_id) if "events:PutEvents" in actions_of(s)]
    assert actions_of(put) == ["events:PutEvents"]
    assert put["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}


def test_only_the_stream_consumers_start_workflows_each_its_own(env_template):
    env, template = env_template
    started: dict[str, list[str]] = {}
    for role_id in resources(template, "AWS::IAM::Role"):
        for statement in policy_statements(template, role_id):
            if "states:StartExecution" in actions_of(statement):
                arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                started.setdefault(role_id, []).extend(sorted(a["Fn::Sub"].rsplit(":", 1)[1] for a in arns))
    assert started == {
        _role_of(template, HANDLERS.format("capture", "stream")): [f"oms-{env}-order-fulfillment"],
        _role_of(template, HANDLERS.format("invoice", "stream")): [f"oms-{env}-return-processing",
                                                                    f"oms-{env}-shipment-invoicing"],
        # and the reconciler, which resumes an order through either
        _role_of(template, HANDLERS.format("reconcile", "run")): [f"oms-{env}-order-fulfillment",
                                                                   f"oms-{env}-shipment-invoicing"],
    }


def test_the_reconciler_reads_orders_moves_their_check_and_starts_the_workflows_steps_only(env_template):
    _, template = env_template
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    role_id = _role_of(template, HANDLERS.format("reconcile", "run"))
    statements = [s for s in policy_statements(template, role_id) if table_id in json.dumps(s["Resource"])]
    on_table = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}]
    assert [set(actions_of(s)) for s in on_table] == [{"dynamodb:Query", "dynamodb:UpdateItem"}]
    (on_index,) = [s for s in statements if "/index/" in json.dumps(s["Resource"])]
    assert actions_of(on_index) in (["dynamodb:Query"], "dynamodb:Query")
    assert json.dumps(on_index["Resource"]).count("/index/GSI4") == 1 and "GSI1" not in json.dumps(on_index)
    notice_id, _ = function_by_handler(template, HANDLERS.format("notify", "order_notice"))
    (invoke,) = [s for s in policy_statements(template, role_id) if "lambda:InvokeFunction" in actions_of(s)]
    assert invoke["Resource"] == {"Fn::GetAtt": [notice_id, "Arn"]}
    # the orders API's resume asks the reconciler, that function only
    reconciler_id, _ = function_by_handler(template, HANDLERS.format("reconcile", "run"))
    api_role = _role_of(template, HANDLERS.format("capture", "api"))
    (asks,) = [s for s in policy_statements(template, api_role) if "lambda:InvokeFunction" in actions_of(s)]
    assert asks["Resource"] == {"Fn::GetAtt": [reconciler_id, "Arn"]}


def test_the_reconciler_schedule_may_invoke_the_reconciler_and_nothing_else(env_template):
    env, template = env_template
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["Name"] == f"oms-{env}-reconcile" and props["State"] == "ENABLED"
    assert props["ScheduleExpression"] == ("rate(10080 minutes)" if env == "local" else "rate(5 minutes)")
    reconciler = _role_of(template, HANDLERS.format("reconcile", "run"))
    function_id = next(k for k, f in resources(template, "AWS::Lambda::Function").items()
                       if f["Properties"]["Handler"] == HANDLERS.format("reconcile", "run"))
    assert props["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} and reconciler
    role_id = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = resources(template, "AWS::IAM::Role")[role_id]
    (principal,) = [s["Principal"]["Service"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert principal == "scheduler.amazonaws.com"
    granted = {(a, json.dumps(s["Resource"], sort_keys=True)) for s in policy_statements(template, role_id)
               for a in actions_of(s)}
    dlq = props["Target"]["DeadLetterConfig"]["Arn"]
    assert granted == {("lambda:InvokeFunction", json.dumps({"Fn::GetAtt": [function_id, "Arn"]}, sort_keys=True)),
                       ("sqs:SendMessage", json.dumps(dlq, sort_keys=True))}


def test_cdk_nag_ran_clean_and_acknowledgements_are_scoped(assembly_dir: Path):
    # The session App ran AwsSolutionsChecks (synth raises on any finding; see the test below).
    for env in ENVIRONMENTS:
        metadata = json.loads((assembly_dir / f"Oms-{env}.metadata.json").read_text())
        acknowledged = 0
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] != ACKNOWLEDGED:
                    continue
                # Never the stack nor a whole capability: a resource (role, function, method...).
                assert path.count("/") >= 3, path
                for rule, reason in entry["data"].items():
                    assert rule.startswith("Annotation::AwsSolutions-"), rule
                    assert len(reason) > 60, (path, rule)
                    acknowledged += 1
        assert acknowledged > 0


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cfn_lint_clean(assembly_dir: Path, env: str):
    template = (assembly_dir / f"Oms-{env}.template.json").read_text()
    matches = lint(template, config=ManualArgs(regions=["eu-central-1"], ignore_checks=["W3005"]))
    assert not matches, "\n".join(str(match) for match in matches)


def test_without_the_acknowledgements_cdk_nag_fails_the_synth(monkeypatch, tmp_path: Path):
    # Given the prod stack with cdk-nag but none of infra/nag.py's acknowledgements
    from infra import app as app_module
    from infra import nag

    monkeypatch.setattr(nag, "acknowledge", lambda stack: None)
    app, _ = app_module.build_app(["prod"], outdir=str(tmp_path))
    # Then synth refuses: the checks are really wired, and it is the acknowledgements that pass them
    with pytest.raises(RuntimeError, match=r"Validation failed|AwsSolutions"):  # jsii wraps ValidationFailed
        app.synth()


def test_route_functions_get_exactly_the_table_actions_their_code_uses(env_template):
    _, template = env_template
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    expected = {
        # the order, stock and nodes (Query), the network's version (GetItem)
        "plan": {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"},
        # requests and dispatch (Query, UpdateItem); a node read, listed and written with the
        # network's version in one transaction (GetItem, Query, PutItem, UpdateItem)
        "api": {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem",
                "dynamodb:ConditionCheckItem"},  # a large shipment's parts
    }
    for module, table_actions in expected.items():
        role_id = _role_of(template, HANDLERS.format("route", module))
        statements = [s for s in policy_statements(template, role_id) if table_id in json.dumps(s["Resource"])]
        granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert granted == table_actions, module
        assert not {a for a in _actions(template, role_id) if a.startswith(("sqs:", "events:", "states:"))}


def test_allocate_api_may_only_query_and_set_stock(env_template):
    _, template = env_template
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    role_id = _role_of(template, HANDLERS.format("allocate", "api"))
    statements = [s for s in policy_statements(template, role_id) if table_id in json.dumps(s["Resource"])]
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == {"dynamodb:Query", "dynamodb:UpdateItem"}
    assert not {a for a in _actions(template, role_id) if a.startswith(("sqs:", "events:", "states:"))}


def test_notify_may_publish_text_messages_only(env_template):
    _, template = env_template
    for module in ("order_notice", "stream"):
        role_id = _role_of(template, HANDLERS.format("notify", module))
        publish = [s for s in policy_statements(template, role_id) if "sns:Publish" in actions_of(s)]
        allowed = [s for s in publish if s.get("Effect", "Allow") == "Allow"]
        denied = [s for s in publish if s.get("Effect") == "Deny"]
        # a phone number has no ARN, so the allow is on * (in the stack's region) ...
        assert [s["Resource"] for s in allowed] == ["*"], module
        # ... and every publish that names an ARN (a topic, a platform endpoint) is denied
        any_topic = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:*:*:*"]]}
        assert [s["Resource"] for s in denied] == [any_topic], module
    # nothing else of the stack may publish at all
    for function_id, function in resources(template, "AWS::Lambda::Function").items():
        if ".notify." in function["Properties"]["Handler"]:
            continue
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert not [s for s in policy_statements(template, role_id) if "sns:Publish" in actions_of(s)], function_id


def test_no_role_allows_anything_else_on_every_resource(env_template):
    # cdk-nag's IAM5 finding for Resource::* is acknowledged per role; this keeps that from
    # hiding a new wildcard: a statement on * may hold only the actions that cannot be scoped
    _, template = env_template
    for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            on_everything = statement["Resource"] == "*" or (isinstance(statement["Resource"], list)
                                                             and "*" in statement["Resource"])
            if on_everything:
                assert set(actions_of(statement)) <= set(WILDCARD_ACTIONS), (policy_id, actions_of(statement))


def _table_statements(template) -> list[tuple[str, str, dict]]:
    """(role, "" for the table or the index name, statement) for every allow on the table."""
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for target in targets:
                if target == {"Fn::GetAtt": [table_id, "Arn"]}:
                    where = ""
                elif isinstance(target, dict) and "Fn::Join" in target and table_id in json.dumps(target) \
                        and "/index/" in json.dumps(target):
                    where = target["Fn::Join"][1][-1].removeprefix("/index/")
                else:
                    continue
                for role in policy["Properties"]["Roles"]:
                    found.append((role["Ref"], where, statement))
    return found


def test_every_table_grant_is_limited_to_the_partitions_of_keys_py(env_template):
    # Least privilege (issue 11): a function's table actions hold only for the partition keys it
    # uses — dynamodb:LeadingKeys with patterns of functions/core/adapters/keys.py — and an index
    # is only queried, only in partitions that index has
    _, template = env_template
    statements = _table_statements(template)
    assert statements
    on_table = {pattern for pattern, index in PARTITIONS.values() if index is None}
    for role, index, statement in statements:
        condition = statement.get("Condition", {})
        assert list(condition) == ["ForAllValues:StringLike"], (role, statement)
        patterns = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if index:
            assert actions_of(statement) == ["dynamodb:Query"], (role, index)
            assert set(patterns) <= {pattern for pattern, on in PARTITIONS.values() if on == index}, (role, index)
        else:
            assert set(patterns) <= on_table, (role, patterns)
        # ForAllValues is true for a request naming no key at all: a Scan would pass it
        assert "dynamodb:Scan" not in actions_of(statement)


def test_no_function_may_touch_api_keys_but_the_authorizer(env_template):
    # "any of them could mint an agent API key": only the authorizer reads APIKEY# items, and
    # nothing of the stack writes them (keys are issued with the operator's credentials)
    _, template = env_template
    authorizer = _role_of(template, HANDLERS.format("access", "authorizer"))
    for role, _, statement in _table_statements(template):
        patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        if PARTITIONS["api_key"][0] in patterns or PARTITIONS["api_keys"][0] in patterns:
            assert role == authorizer and actions_of(statement) == ["dynamodb:GetItem"], (role, statement)


def test_each_wildcard_acknowledgement_names_every_action_it_covers(assembly_dir: Path, templates):
    # cdk-nag's IAM5 Resource::* finding is acknowledged per role with the reason of each action
    # that role allows on *, so an acknowledgement never covers an action nobody wrote down
    for env in ENVIRONMENTS:
        template = templates[env]
        metadata = json.loads((assembly_dir / f"Oms-{env}.metadata.json").read_text())
        logical = {path: entry["data"] for path, entries in metadata.items() for entry in entries
                   if entry["type"] == "aws:cdk:logicalId"}
        checked = 0
        for path, entries in metadata.items():
            for entry in entries:
                reason = (entry["data"] or {}).get(f"Annotation::{WILDCARD_FINDING}") \
                    if entry["type"] == ACKNOWLEDGED else None
                if reason is None:
                    continue
                role_id = logical[f"{path}/Resource"]
                on_everything = {a for s in policy_statements(template, role_id) if s["Effect"] == "Allow"
                                 and "*" in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
                                 for a in actions_of(s)}
                assert on_everything, (env, path)
                for action in on_everything:
                    assert f"{action} ({WILDCARD_ACTIONS[action]})" in reason, (env, path, action)
                checked += 1
        assert checked > 10
