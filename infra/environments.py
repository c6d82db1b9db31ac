"""THE list of what the `local` environment does differently, and why.

`local` is the template localcloud/ deploys into moto (the embedded emulator). It must stay the
same template as dev/staging/prod except where the emulator cannot cope; every such difference
is a function of this module, used by the stack, with its reason next to it. Things that are NOT
differences, on purpose:

- API keys: no key values in any template. Key management (functions/access) creates keys at
  run time and attaches them to their role's usage plan, locally as in AWS.
- Custom resources: none in ANY environment (no `log_retention=`, no AwsCustomResource; the
  cdk.json feature flags `@aws-cdk/aws-lambda:useCdkManagedLogGroup` and
  `@aws-cdk/aws-apigateway:disableCloudWatchRole` keep CDK from adding its own). moto cannot run
  their Node.js providers, and they are not needed anywhere.
- Environment variables: identical for every function of a stack in every environment.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

LOCAL = "local"


def is_local(env_name: str) -> bool:
    return env_name == LOCAL


def stack_props(env_name: str) -> dict[str, Any]:
    """Keyword arguments for `cdk.Stack` that differ locally."""
    if not is_local(env_name):
        return {}
    return {
        # The BootstrapVersion parameter is SSM-typed (AWS::SSM::Parameter::Value<String>), which
        # moto's CloudFormation cannot resolve (HTTP 500 "invalid XML"). Keep the default
        # synthesizer otherwise: assets are still published to the usual bootstrap bucket name,
        # which localcloud creates. (BootstraplessSynthesizer refuses file assets.)
        "synthesizer": cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
        # AWS::CDK::Metadata is not a resource type moto knows; it is skipped with a warning,
        # and localcloud fails loudly on skipped resources.
        "analytics_reporting": False,
    }


def uses_dependencies_layer(env_name: str) -> bool:
    # The dependencies layer (infra/dependencies.py) is built for Python 3.13 on aarch64, which
    # this machine's interpreter cannot load (pydantic_core is compiled), and the local runtime
    # (localcloud/patches/lambda_runtime.py) runs every handler in-process from the project's
    # venv, which `uv sync --frozen` installs from the same uv.lock. A local layer would be
    # built (~35 MB of wheels downloaded on a fresh clone, a network need `make up` does not have
    # today), zipped and uploaded into moto on every boot, and never imported. What the layer
    # must hold is proved where it can be: tests/infra/test_dependencies.py imports every
    # handler with only the code asset and a host build of the same requirements on sys.path.
    return not is_local(env_name)


#: The local stack's paging-token key (API.md, "Local environment only"): fixed, so tokens stay
#: valid across restarts of `make up`; not a credential (it guards nothing but cursors of a
#: throwaway local table).
LOCAL_PAGING_KEY = "local-paging-key"


def paging_key_props(env_name: str) -> dict[str, Any]:
    """The paging key's value: generated at deploy in AWS, the fixed local key locally."""
    if is_local(env_name):
        return {"secret_string_value": cdk.SecretValue.unsafe_plain_text(LOCAL_PAGING_KEY)}
    return {"generate_secret_string": cdk.aws_secretsmanager.SecretStringGenerator(
        password_length=64, exclude_punctuation=True)}


def runs_cdk_nag(env_names: tuple[str, ...]) -> bool:
    # cdk-nag is a validation plugin on the whole App. A local-only synth (what localcloud runs
    # before every deploy) skips it for speed: the local stack is built by the same constructs,
    # which are checked whenever dev/staging/prod are in the App (tests, `make synth`).
    return any(not is_local(name) for name in env_names)
