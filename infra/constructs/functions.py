"""The one way this app makes a Lambda function.

Every function: Python 3.13 on arm64, the single code asset (the repo's `functions` package),
the one dependencies layer (every third-party package, boto3 included, built from uv.lock by
infra/dependencies.py; not in `local`, see infra/environments.py), the SAME environment dict
(the local runtime runs all functions in one process, so they must not need different values
for one variable), active tracing, JSON logs into its own log group with the environment's
retention, and its own role that starts with nothing but writing to that log group. Callers add
exactly the permissions the function needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Duration, IgnoreMode
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import dependencies
from infra.config import REPO_ROOT, EnvironmentConfig

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# The asset root is the repository, so handler strings read `functions.<capability>.handlers...`.
# gitignore semantics: drop everything at the root but `functions/`, then caches inside it
# (a .pyc or __pycache__ in the asset would change its hash from run to run).
ASSET_EXCLUDES = ["/*", "!/functions/", "__pycache__/", "*.pyc", ".*"]


class LambdaFunctions(Construct):
    """Factory for the app's Python functions; holds the shared code asset and environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        environment: Mapping[str, str],
        dependencies_layer: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.environment: Mapping[str, str] = dict(environment)
        self.code = lambda_.Code.from_asset(str(REPO_ROOT), exclude=ASSET_EXCLUDES, ignore_mode=IgnoreMode.GIT)
        self._layers: list[lambda_.ILayerVersion] = []
        if dependencies_layer:
            # Built (or taken from .cache/layers/) at synth time: pip, wheels only, no Docker.
            built = dependencies.build_layer(dependencies.LAMBDA)
            self._layers.append(
                lambda_.LayerVersion(
                    self,
                    "Dependencies",
                    layer_version_name=f"{config.prefix}-dependencies",
                    description=f"{config.prefix}: the locked runtime dependencies of functions/ "
                    f"({len(built.pins)} distributions, requirements {built.key})",
                    code=lambda_.Code.from_asset(str(built.directory)),
                    compatible_runtimes=[RUNTIME],
                    compatible_architectures=[ARCHITECTURE],
                )
            )
        self.functions: list[lambda_.Function] = []

    def python_function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        capability: str,
        role: str,
        handler: str,
        description: str,
        timeout: Duration | None = None,
        memory_mb: int | None = None,
        snap_start: bool = False,
    ) -> lambda_.Function:
        """A function named `oms-<env>-<capability>-<role>` running `handler`.

        `snap_start`: Lambda SnapStart on its published versions (Python 3.12+, arm64): the init
        (the handler module's imports) runs once when a version is published and is snapshotted; a
        cold start restores the snapshot. For a function whose imports are heavy and whose trigger
        can name a version (an event source mapping on `function.current_version`), never for an
        API function (API Gateway calls $LATEST here)."""
        config = self._config
        function_name = config.function_name(capability, role)
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        execution_role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: least privilege, granted per use",
        )
        # Instead of the managed AWSLambdaBasicExecutionRole (logs:* on every group):
        # write to this function's own log group only.
        log_group.grant_write(execution_role)
        function = lambda_.Function(
            scope,
            construct_id,
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self.code,
            handler=handler,
            environment=dict(self.environment),
            layers=self._layers,
            role=execution_role,
            memory_size=memory_mb or config.memory_mb,
            timeout=timeout or config.timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
        if snap_start:  # the version is published: the trigger names `function.current_version`
            Annotations.of(function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "its event source mapping is on function.current_version, a published version")
        self.functions.append(function)
        return function
