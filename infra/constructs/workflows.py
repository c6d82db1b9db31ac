"""State machines from statemachines/*.asl.json (JSONPath ASL, inlined).

`DefinitionBody.from_string` inlines the file as DefinitionString, so CDK's validator and
cfn-lint check it (`from_file` would upload it as an asset nobody checks). Lambda ARNs come in
through DefinitionSubstitutions (`${PlanFunctionArn}` in the file).

Machines have fixed names, so anything that starts them can build their ARN with `Fn::Sub`
(`workflow_arn`) instead of a `Ref`: a Ref would make a cycle, since a machine invokes functions
whose (shared) environment carries that ARN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import STATEMACHINES_DIR, EnvironmentConfig
from infra.constructs.monitoring import Monitoring

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def asl_path(workflow: str) -> Path:
    return STATEMACHINES_DIR / f"{workflow}.asl.json"


def workflow_arn(config: EnvironmentConfig, workflow: str) -> str:
    """The ARN of a workflow of this stack, from its fixed name (Fn::Sub, no Ref)."""
    return Fn.sub(
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
        + config.state_machine_name(workflow)
    )


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._monitoring = monitoring
        self.state_machines: dict[str, sfn.StateMachine] = {}

    def add_workflow(
        self,
        construct_id: str,
        *,
        workflow: str,
        functions: Mapping[str, lambda_.IFunction],
        machine_type: sfn.StateMachineType = sfn.StateMachineType.EXPRESS,
    ) -> sfn.StateMachine:
        """The state machine `oms-<env>-<workflow>` from `statemachines/<workflow>.asl.json`.

        `functions` maps each `${Placeholder}` of the file to the function it names; the machine
        may invoke exactly those functions.
        """
        definition = asl_path(workflow).read_text(encoding="utf-8")
        placeholders = set(PLACEHOLDER.findall(definition))
        if placeholders != set(functions):
            raise ValueError(
                f"{workflow}: the ASL uses {sorted(placeholders)}, substitutions given for {sorted(functions)}"
            )
        name = self._config.state_machine_name(workflow)
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing
            # with every machine.
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            state_machine_type=machine_type,
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions={key: fn.function_arn for key, fn in functions.items()},
            tracing_enabled=True,
            # Failures only, without execution data (orders carry personal data). Successful
            # runs are visible in X-Ray and in the order's timeline in the table.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
        )
        # The unqualified ARNs the ASL names, and nothing else (grant_invoke would add `:*`).
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[fn.function_arn for fn in functions.values()],
            )
        )
        self._monitoring.watch_state_machine(construct_id, machine)
        self.state_machines[workflow] = machine
        return machine
