"""The CDK app: one environment-agnostic stack per environment (`Oms-<env>`).

app.py           CDK entry (`cdk synth -c env=...`), build_app() for synth.py and tests
synth.py         `python -m infra.synth --env ... --out ...` without the CDK CLI
config.py        per-environment settings and names, in one place
environments.py  what `local` (the moto-deployed stack) does differently, and why
stack.py         the stack, composed from:
constructs/      monitoring, data, messaging, functions (the factory), access, api,
                 capture, workflows
nag.py           cdk-nag acknowledgements, each scoped and reasoned
"""
