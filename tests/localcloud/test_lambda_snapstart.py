"""Lambda SnapStart, AWS::Lambda::Version and mappings on a version (localcloud.patches.lambda_snapstart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import localcloud
from localcloud.deploy import deploy_template, publish_assets
from tests.localcloud import api_stack
from tests.localcloud.lambdas import probe
from tests.localcloud.support import PROBE, ROLE, client, code_zip, create_function, create_table, invoke

SNAPSTART = {"ApplyOn": "PublishedVersions"}


def _record_context(seen: list[dict[str, Any]]) -> probe.Behaviour:
    def behaviour(event: Any, context: Any) -> None:
        seen.append({"version": context.function_version, "arn": context.invoked_function_arn, "event": event})

    return behaviour


def _template() -> dict[str, Any]:
    """What CDK writes for one SnapStart function fed by a queue: the function, its Version and
    the queue's mapping on that Version."""
    function = api_stack.function(PROBE)
    function["Properties"].update(FunctionName="oms-local-invoice-render", SnapStart=SNAPSTART)
    return {
        "Resources": {
            "FnRole": api_stack.template()["Resources"]["FnRole"],
            "Fn": function,
            "FnVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "invoice-render"}},
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "FunctionName": {"Ref": "FnVersion"},
                    "BatchSize": 1,
                },
            },
        },
        "Outputs": {
            "VersionNumber": {"Value": {"Fn::GetAtt": ["FnVersion", "Version"]}},
            "VersionArn": {"Value": {"Fn::GetAtt": ["FnVersion", "FunctionArn"]}},
        },
    }


def test_a_queue_mapping_on_the_version_of_a_snapstart_function_deploys_and_delivers(aws: None, tmp_path: Path) -> None:
    # Given the stack's code asset is published, and a template with a SnapStart function, its
    # Version and a queue mapped to that Version (moto alone crashes on {Ref: FnVersion})
    api_stack.write_assembly(tmp_path)
    publish_assets(tmp_path, f"{api_stack.STACK}.assets.json", client("s3"))
    # When it is deployed
    deployment = deploy_template(_template(), "snapstart")
    name = deployment.physical_ids["Fn"]
    version_arn = f"arn:aws:lambda:{localcloud.REGION}:{localcloud.ACCOUNT_ID}:function:{name}:1"
    # Then the Version's Ref (and GetAtt FunctionArn) is the qualified version ARN
    assert name == "oms-local-invoice-render"
    assert deployment.physical_ids["FnVersion"] == version_arn
    assert deployment.outputs == {"VersionNumber": "1", "VersionArn": version_arn}
    # and the function reports SnapStart as AWS does: optimised for published versions only
    lam = client("lambda")
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"] == {
        "ApplyOn": "PublishedVersions",
        "OptimizationStatus": "Off",
    }
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["SnapStart"] == {
        "ApplyOn": "PublishedVersions",
        "OptimizationStatus": "On",
    }
    # and the mapping is on the version
    mapping = lam.get_event_source_mapping(UUID=deployment.physical_ids["Mapping"])
    assert mapping["FunctionArn"] == version_arn
    # When a message is sent to the queue
    seen: list[dict[str, Any]] = []
    probe.BEHAVIOURS[name] = _record_context(seen)
    client("sqs").send_message(QueueUrl=deployment.physical_ids["Queue"], MessageBody="INV-2026-000001")
    localcloud.settle()
    # Then the function's code ran once for it, as version 1 invoked by its qualified ARN
    assert [r["body"] for e in probe.calls(name) for r in e["Records"]] == ["INV-2026-000001"]
    assert [(s["version"], s["arn"]) for s in seen] == [("1", version_arn)]


def test_create_function_keeps_snapstart_and_published_versions_are_optimised(aws: None) -> None:
    lam = client("lambda")
    # Given a function created with SnapStart by API, and one without
    created = lam.create_function(
        FunctionName="render",
        Runtime="python3.12",
        Role=ROLE,
        Handler=PROBE,
        Code={"ZipFile": code_zip()},
        SnapStart=SNAPSTART,
    )
    create_function("plain")
    # When a version of it is published
    published = lam.publish_version(FunctionName="render")
    # Then $LATEST reports ApplyOn with optimisation off, the version with it on
    latest_off = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert created["SnapStart"] == latest_off
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    listed = {f["FunctionName"]: f["SnapStart"] for f in lam.list_functions()["Functions"]}
    assert listed == {"render": latest_off, "plain": {"ApplyOn": "None", "OptimizationStatus": "Off"}}
    every = {
        f["FunctionArn"].rsplit(":", 1)[-1]: f["SnapStart"]["OptimizationStatus"]
        for f in lam.list_functions(FunctionVersion="ALL")["Functions"]
        if f["FunctionName"] == "render"
    }
    assert every == {"$LATEST": "Off", "1": "On"}
    # When SnapStart is turned off, $LATEST shows it, and the published version keeps its own
    lam.update_function_configuration(FunctionName="render", SnapStart={"ApplyOn": "None"})
    assert lam.get_function_configuration(FunctionName="render")["SnapStart"]["ApplyOn"] == "None"
    assert lam.get_function_configuration(FunctionName="render", Qualifier="1")["SnapStart"]["ApplyOn"] == (
        "PublishedVersions"
    )


def test_a_stream_mapping_on_a_version_arn_invokes_that_version(aws: None) -> None:
    # Given a table's stream mapped to version 1 of a function
    stream = create_table("invoices")
    create_function("indexer")
    version_arn = client("lambda").publish_version(FunctionName="indexer")["FunctionArn"]
    mapping = client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName=version_arn, StartingPosition="TRIM_HORIZON"
    )
    seen: list[dict[str, Any]] = []
    probe.BEHAVIOURS["indexer"] = _record_context(seen)
    # When an item is written
    client("dynamodb").put_item(TableName="invoices", Item={"PK": {"S": "INV#1"}, "SK": {"S": "INVOICE"}})
    localcloud.settle()
    # Then the version ran for its record
    assert mapping["FunctionArn"] == version_arn
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for s in seen for r in s["event"]["Records"]] == ["INV#1"]
    assert [(s["version"], s["arn"]) for s in seen] == [("1", version_arn)]


def test_a_running_version_still_owns_its_environment(aws: None) -> None:
    # Given version 1 of a function that sets X=1 has run
    create_function("first", environment={"X": "1"})
    version_arn = client("lambda").publish_version(FunctionName="first")["FunctionArn"]
    assert invoke(version_arn, {}) == ({"ok": True}, None)
    # When another function that needs X=2 runs in the same process
    result, error = invoke(create_function("second", environment={"X": "2"}), {})
    # Then it is refused, as for $LATEST (the version is not mistaken for a deleted function)
    assert error == "Unhandled"
    assert result["errorType"] == "LocalCloud.EnvironmentConflict"
