"""Lambda functions: handler strings of the contract, one shared environment, one code asset."""

from __future__ import annotations

import pytest
from cfn_template import function_by_handler, resources

pytestmark = pytest.mark.infra

CONTRACT_HANDLERS = {
    "functions.access.handlers.authorizer.lambda_handler",
    "functions.platform.handlers.api.lambda_handler",
    "functions.capture.handlers.api.lambda_handler",
    "functions.capture.handlers.intake.lambda_handler",
    "functions.capture.handlers.stream.lambda_handler",
    "functions.capture.handlers.exchange.lambda_handler",
    "functions.allocate.handlers.api.lambda_handler",
    "functions.allocate.handlers.reserve.lambda_handler",
    "functions.allocate.handlers.backorder.lambda_handler",
    "functions.route.handlers.plan.lambda_handler",
    "functions.route.handlers.api.lambda_handler",
    "functions.returns.handlers.api.lambda_handler",
    "functions.notify.handlers.order_notice.lambda_handler",
    "functions.notify.handlers.stream.lambda_handler",
    "functions.invoice.handlers.invoice_shipment.lambda_handler",
    "functions.invoice.handlers.flag.lambda_handler",
    "functions.invoice.handlers.refund_receipt.lambda_handler",
    "functions.invoice.handlers.refund_flag.lambda_handler",
    "functions.invoice.handlers.stream.lambda_handler",
    "functions.invoice.handlers.render_document.lambda_handler",
    "functions.invoice.handlers.api.lambda_handler",
    "functions.reconcile.handlers.run.lambda_handler",
}
CONTRACT_VARIABLES = {
    "OMS_ENV",
    "TABLE_NAME",
    "EVENT_BUS_NAME",
    "ORDER_WORKFLOW_ARN",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "NOTICE_SENDER",
    "INVOICE_WORKFLOW_ARN",
    "RETURN_WORKFLOW_ARN",
    "LEGAL_ENTITY",
    "PAYMENT_PROVIDER",
    "VAT_REGISTRY",
    "DOCUMENT_QUEUE_URL",
    "DOCUMENT_BUCKET",
    "PAGING_KEY_SECRET",
    "RECONCILE_AFTER_SECONDS",
    "NOTICE_LEASE_SECONDS",
    "NOTICE_FUNCTION_NAME",
    "RECONCILE_FUNCTION_NAME",
}


def test_handlers_are_the_contracts(env_template):
    _, template = env_template
    handlers = {f["Properties"]["Handler"] for f in resources(template, "AWS::Lambda::Function").values()}
    assert handlers == CONTRACT_HANDLERS


def test_every_function_gets_the_same_environment(env_template):
    # The local runtime runs every function of a stack in one process (one os.environ).
    env, template = env_template
    environments = [
        f["Properties"]["Environment"]["Variables"] for f in resources(template, "AWS::Lambda::Function").values()
    ]
    first = environments[0]
    assert all(variables == first for variables in environments)
    # the payment provider's secret only where the provider has one (tests/infra/test_payments.py)
    assert set(first) - {"PAYMENT_SECRET_NAME"} == CONTRACT_VARIABLES
    table_id, _ = next(iter(resources(template, "AWS::DynamoDB::Table").items()))
    bus_id, _ = next(iter(resources(template, "AWS::Events::EventBus").items()))
    assert first["OMS_ENV"] == env
    assert first["TABLE_NAME"] == {"Ref": table_id}
    assert first["EVENT_BUS_NAME"] == {"Ref": bus_id}
    assert first["ORDER_WORKFLOW_ARN"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        f"oms-{env}-order-fulfillment"
    }
    assert first["POWERTOOLS_SERVICE_NAME"] == "oms"
    assert first["POWERTOOLS_METRICS_NAMESPACE"] == "OMS"
    assert first["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert first["NOTICE_SENDER"] == "orders@acme.example"
    assert first["INVOICE_WORKFLOW_ARN"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        f"oms-{env}-shipment-invoicing"
    }
    assert first["RETURN_WORKFLOW_ARN"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        f"oms-{env}-return-processing"
    }
    assert first["LEGAL_ENTITY"] == "ACME-DE"
    assert first["PAYMENT_PROVIDER"] == ("local" if env == "local" else "stripe")
    assert first["VAT_REGISTRY"] == ("local" if env == "local" else "vies")
    # finance documents: the queue the invoice stream sends new documents to, the bucket they are rendered into
    queues = {q["Properties"]["QueueName"]: lid for lid, q in resources(template, "AWS::SQS::Queue").items()}
    assert first["DOCUMENT_QUEUE_URL"] == {"Ref": queues[f"oms-{env}-documents"]}
    (bucket_id,) = [k for k, b in resources(template, "AWS::S3::Bucket").items()
                    if "/Data/DocumentBucket/" in b["Metadata"]["aws:cdk:path"]]
    assert first["DOCUMENT_BUCKET"] == {"Ref": bucket_id}
    assert (first["RECONCILE_AFTER_SECONDS"], first["NOTICE_LEASE_SECONDS"]) == ("900", "300")
    assert first["NOTICE_FUNCTION_NAME"] == f"oms-{env}-notify-notice"
    assert first["RECONCILE_FUNCTION_NAME"] == f"oms-{env}-reconcile-run"


def test_functions_share_one_code_asset_and_runtime_settings(env_template):
    _, template = env_template
    functions = list(resources(template, "AWS::Lambda::Function").values())
    assert len({f["Properties"]["Code"]["S3Key"] for f in functions}) == 1
    for function in functions:
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert "Ref" in properties["LoggingConfig"]["LogGroup"]  # its own group, own retention


def test_function_names_carry_the_environment(env_template):
    env, template = env_template
    _, api = function_by_handler(template, "functions.capture.handlers.api.lambda_handler")
    assert api["Properties"]["FunctionName"] == f"oms-{env}-capture-api"
    for module, role in (("invoice_shipment", "shipment"), ("flag", "flag"), ("refund_receipt", "refund"),
                         ("refund_flag", "refund-flag"), ("stream", "stream"), ("render_document", "render"),
                         ("api", "api")):
        _, function = function_by_handler(template, f"functions.invoice.handlers.{module}.lambda_handler")
        assert function["Properties"]["FunctionName"] == f"oms-{env}-invoice-{role}"
    for function in resources(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["FunctionName"].startswith(f"oms-{env}-")


def test_log_groups_have_retention_and_prod_retains_them(env_template):
    env, template = env_template
    for log_group in resources(template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] > 0
        assert log_group["DeletionPolicy"] == ("Retain" if env == "prod" else "Delete")
