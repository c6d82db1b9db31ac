"""The payment provider per environment: local captures nothing and exists only in the local
stack; dev, staging and prod run Stripe with its key in a Secrets Manager secret that only the
functions calling the provider may read; synth refuses the local provider anywhere else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra import app as infra_app
from infra import synth
from infra.config import CONFIGS
from infra.stack import OmsStack
from tests.infra.cfn_template import Template, actions_of, function_by_handler, policy_statements, resources

pytestmark = pytest.mark.infra

HANDLERS = "functions.invoice.handlers"
CALLERS = {f"{HANDLERS}.invoice_shipment.lambda_handler", f"{HANDLERS}.refund_receipt.lambda_handler",
           f"{HANDLERS}.stream.lambda_handler"}  # capture; refund; void


def environment(template: Template) -> dict[str, object]:
    variables: dict[str, object] = next(iter(resources(template, "AWS::Lambda::Function").values()))[
        "Properties"]["Environment"]["Variables"]
    return variables


def payment_secrets(template: Template) -> dict[str, dict[str, object]]:
    """The payment provider's secrets (the paging key is another secret: test_infra_data_and_messaging)."""
    return {rid: r for rid, r in resources(template, "AWS::SecretsManager::Secret").items()
            if not str(r["Properties"]["Name"]).endswith("/paging-key")}


def secret_readers(template: Template, secret_id: str) -> set[str]:
    readers = set()
    for _, function in resources(template, "AWS::Lambda::Function").items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        for statement in policy_statements(template, role):
            if any(a.startswith("secretsmanager:") for a in actions_of(statement)):
                assert isinstance(statement["Resource"], dict) and "Ref" in statement["Resource"]  # one secret
            if statement["Resource"] == {"Ref": secret_id}:
                assert set(actions_of(statement)) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
                readers.add(function["Properties"]["Handler"])
    return readers


def test_local_runs_the_local_provider_with_no_secret(templates: dict[str, Template]) -> None:
    template = templates["local"]
    assert environment(template)["PAYMENT_PROVIDER"] == "local"
    assert "PAYMENT_SECRET_NAME" not in environment(template)
    assert payment_secrets(template) == {}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_deployed_environments_run_stripe_with_its_key_in_a_secret(templates: dict[str, Template], env: str) -> None:
    template = templates[env]
    variables = environment(template)
    assert variables["PAYMENT_PROVIDER"] == "stripe"
    assert variables["PAYMENT_SECRET_NAME"] == f"oms-{env}/stripe-api-key"
    ((secret_id, secret),) = payment_secrets(template).items()
    assert secret["Properties"]["Name"] == f"oms-{env}/stripe-api-key"
    # a generated placeholder: no key in the repo or the template
    assert "SecretString" not in secret["Properties"] and "GenerateSecretString" in secret["Properties"]
    assert secret_readers(template, secret_id) == CALLERS
    for handler in CALLERS:
        function_by_handler(template, handler)  # the callers are the invoice functions
    if env == "prod":
        assert secret["DeletionPolicy"] == "Retain"


def test_synth_refuses_the_local_provider_outside_local() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match=r"local payment provider .* local environment only"):
        OmsStack(app, config=replace(CONFIGS["staging"], payment_provider="local"))


def test_synth_refuses_an_unknown_provider() -> None:
    with pytest.raises(ValueError, match="not one of"):
        OmsStack(cdk.App(), config=replace(CONFIGS["dev"], payment_provider="paypal"))


def test_the_synth_command_refuses_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(infra_app, "CONFIGS", {**CONFIGS, "prod": replace(CONFIGS["prod"], payment_provider="local")})
    assert synth.main(["--env", "prod", "--out", str(tmp_path)]) == 2
    assert "local payment provider takes no money" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.template.json"))


def test_the_provider_has_no_default() -> None:
    from infra.config import EnvironmentConfig

    with pytest.raises(TypeError, match="payment_provider"):
        EnvironmentConfig(name="dev")  # type: ignore[call-arg]
