"""Lambda SnapStart and ``AWS::Lambda::Version``: what moto 5.2.5 gets wrong.

* ``LambdaFunction.get_configuration`` hard-codes ``SnapStart: {ApplyOn: None,
  OptimizationStatus: Off}``; neither CreateFunction's ``SnapStart`` parameter nor the
  CloudFormation property is kept. On AWS a function with ``ApplyOn: PublishedVersions`` reports
  that ``ApplyOn`` on every version, with ``OptimizationStatus`` ``On`` for its published
  versions and ``Off`` for ``$LATEST``. Here the setting is kept (CreateFunction,
  UpdateFunctionConfiguration, the CloudFormation property) and copied into each published
  version, as AWS snapshots the configuration at publish time.
* ``LambdaVersion`` (``AWS::Lambda::Version``) has no ``physical_resource_id``, so
  ``{"Ref": Version}`` resolves to the Python object: an event source mapping on it (what CDK
  writes for a SnapStart function) crashes the stack with ``expected string or bytes-like
  object, got 'LambdaVersion'``. On AWS, ``Ref`` is the qualified version ARN
  (``...:function:name:1``); ``GetAtt`` offers ``FunctionArn`` (the same) and ``Version``.
* Invoking a published version (a mapping on the version ARN) ran the handler with
  ``context.function_version == "$LATEST"``, and the runtime took the version for a deleted
  function when checking environment conflicts (``lambda_runtime._is_live`` compared it with
  ``$LATEST``). AWS gives the version number. Snapshot/restore itself is not emulated: handlers
  run in process, initialised once.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction, LambdaVersion
from moto.awslambda.utils import get_backend
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

from localcloud.patches import lambda_runtime

_NONE = "None"
_ORIGINAL_INIT = LambdaFunction.__init__
_ORIGINAL_GET_CONFIGURATION = LambdaFunction.get_configuration
_ORIGINAL_UPDATE_CONFIGURATION = LambdaFunction.update_configuration
_ORIGINAL_CFN_CREATE: Any = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_ORIGINAL_CONTEXT_INIT = lambda_runtime.LambdaContext.__init__


def _apply_on(snap_start: Any) -> str:
    return str((snap_start or {}).get("ApplyOn") or _NONE)


def _init(self: LambdaFunction, account_id: str, spec: dict[str, Any], region: str, version: str | int = 1) -> None:
    _ORIGINAL_INIT(self, account_id, spec, region, version)
    self.snap_start_apply_on = _apply_on(spec.get("SnapStart"))  # type: ignore[attr-defined]


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    config = _ORIGINAL_GET_CONFIGURATION(self, on_create)
    apply_on = getattr(self, "snap_start_apply_on", _NONE)
    optimized = apply_on == "PublishedVersions" and str(self.version) != "$LATEST"
    config["SnapStart"] = {"ApplyOn": apply_on, "OptimizationStatus": "On" if optimized else "Off"}
    return config


def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "SnapStart" in config_updates:
        self.snap_start_apply_on = _apply_on(config_updates["SnapStart"])  # type: ignore[attr-defined]
    return _ORIGINAL_UPDATE_CONFIGURATION(self, config_updates)


def _create_function_from_cfn(
    cls: type[LambdaFunction],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> LambdaFunction:
    fn: LambdaFunction = _ORIGINAL_CFN_CREATE(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    apply_on = _apply_on(cloudformation_json["Properties"].get("SnapStart"))
    backend = get_backend(account_id, region_name)
    # $LATEST, any version ``Publish: true`` made, and the object returned (a copy if published)
    _latest_copy, *versions = backend.list_versions_by_function(fn.function_name)
    for each in (fn, backend.get_function(fn.function_name), *versions):
        each.snap_start_apply_on = apply_on  # type: ignore[attr-defined]
    return fn


def _create_version_from_cfn(
    cls: type[LambdaVersion],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> LambdaVersion:
    properties = cloudformation_json["Properties"]
    fn = get_backend(account_id, region_name).publish_version(
        properties["FunctionName"], properties.get("Description", "")
    )
    assert fn is not None  # publish_version raises for an unknown function
    version = LambdaVersion({"Version": fn.version})  # type: ignore[abstract]
    version.function_arn = fn.function_arn  # type: ignore[attr-defined]  # qualified: set_version
    return version


def _version_arn(self: LambdaVersion) -> str:
    return str(self.function_arn)  # type: ignore[attr-defined]


def _version_has_cfn_attr(cls: type[LambdaVersion], /, attr: str) -> bool:
    return attr in ("FunctionArn", "Version")


def _version_get_cfn_attribute(self: LambdaVersion, attribute_name: str) -> str:
    if attribute_name == "FunctionArn":
        return _version_arn(self)
    if attribute_name == "Version":
        return str(self.version)
    raise UnformattedGetAttTemplateException()


def _context_init(self: lambda_runtime.LambdaContext, fn: LambdaFunction, request_id: str) -> None:
    _ORIGINAL_CONTEXT_INIT(self, fn, request_id)
    version = str(fn.version)
    if version != "$LATEST":
        self.function_version = version
        self.log_stream_name = self.log_stream_name.replace("[$LATEST]", f"[{version}]")


def _is_live(fn: LambdaFunction) -> bool:
    """Is ``fn`` ($LATEST or a published version) still deployed? (Its ARN is qualified for a version.)"""
    try:
        current = get_backend(fn.account_id, fn.region).get_function(fn.function_arn)
    except Exception:
        return False
    return current is fn


def install() -> None:
    LambdaFunction.__init__ = _init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]
    LambdaFunction.create_from_cloudformation_json = classmethod(_create_function_from_cfn)  # type: ignore[method-assign,assignment]
    LambdaVersion.create_from_cloudformation_json = classmethod(_create_version_from_cfn)  # type: ignore[method-assign,assignment]
    LambdaVersion.physical_resource_id = property(_version_arn)  # type: ignore[attr-defined]
    LambdaVersion.has_cfn_attr = classmethod(_version_has_cfn_attr)  # type: ignore[method-assign,assignment]
    LambdaVersion.get_cfn_attribute = _version_get_cfn_attribute  # type: ignore[attr-defined]
    lambda_runtime.LambdaContext.__init__ = _context_init  # type: ignore[method-assign]
    lambda_runtime._is_live = _is_live
