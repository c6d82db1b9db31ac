"""Per-environment settings and the names every construct uses — in one place.

Each environment is one `EnvironmentConfig`. Constructs read from it and never branch on the
environment's name; the handful of things `local` does differently because of the emulator
live in `infra/environments.py`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

REPO_ROOT = Path(__file__).resolve().parent.parent
STATEMACHINES_DIR = REPO_ROOT / "statemachines"

ENVIRONMENTS: tuple[str, ...] = ("local", "dev", "staging", "prod")
ALL = "all"  # `-c env=all`: every environment in one App (one jsii boot for CI and tests)

SERVICE = "oms"
STAGE_NAME = "v1"  # the API's only stage: versioning by stage, as the contract says

# Payment providers (functions/invoice/wiring.py): `local` only for the local environment.
LOCAL_PAYMENT_PROVIDER = "local"
PAYMENT_PROVIDERS: tuple[str, ...] = (LOCAL_PAYMENT_PROVIDER, "stripe")

# Feeds: a sender of a channel's intake queue is written as one of
#   FEED_SENDER_ACCOUNT   the stack's own account (any of its principals whose IAM policies allow it)
#   "role/<name>"         a role of the stack's account (its ARN is built at deploy time)
#   "arn:aws:iam::…"      any principal's full ARN (e.g. a connector's role in another account)
# so no account id is written in the repo. See infra/constructs/messaging.py.
FEED_SENDER_ACCOUNT = "account"
#: A channel id as queue names carry it (`oms-<env>-intake-<channel>`, at most 80 characters);
#: checked with the senders when the queues are built (infra/constructs/messaging.py).
FEED_CHANNEL_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
FEED_SENDER = re.compile(r"^(account|role/[\w+=,.@/-]{1,512}|arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+))$")

# Roles an API key can carry; each gets a usage plan (see ARCHITECTURE.md, API Gateway).
API_ROLES: tuple[str, ...] = ("channel", "node", "agent", "finance")


@dataclass(frozen=True)
class Throttle:
    rate_limit: float  # steady-state requests per second
    burst_limit: int


@dataclass(frozen=True)
class AlarmThresholds:
    api_5xx_per_5_min: int  # API Gateway 5XXError sum over 5 minutes
    api_function_p99_ms: int  # p99 Duration of each API-facing function
    authorizer_errors_per_5_min: int  # alarm when above: 0 = on the first error
    stream_iterator_age_ms: int  # how far the stream consumer may lag behind the table


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    # Lambda
    memory_mb: int = 512  # arm64, Python + pydantic: 512 MB keeps cold starts ~<1 s
    timeout: Duration = field(default_factory=lambda: Duration.seconds(15))
    log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS
    # Data
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY  # table and log groups
    point_in_time_recovery: bool = True
    deletion_protection: bool = False
    # API
    authorizer_cache_ttl: Duration = field(default_factory=lambda: Duration.seconds(300))
    stage_throttle: Throttle = Throttle(rate_limit=100, burst_limit=200)
    usage_plan_throttles: Mapping[str, Throttle] = field(
        default_factory=lambda: MappingProxyType(
            {
                "channel": Throttle(rate_limit=50, burst_limit=100),
                "node": Throttle(rate_limit=20, burst_limit=40),
                "agent": Throttle(rate_limit=10, burst_limit=20),
                "finance": Throttle(rate_limit=5, burst_limit=10),
            }
        )
    )
    # Notices: the sender address, a verified SES identity of the account (account setup, not in
    # the stack: SES production access and DKIM are per account and domain).
    notice_sender: str = "orders@acme.example"
    # Invoicing: the company that issues the invoices (gapless numbers per legal entity and
    # year) and the payment provider that captures card authorisations. The provider is
    # required, with no default: `local` (no network call, always captures) is for the local
    # environment only, and synth refuses it anywhere else (infra/constructs/invoice.py);
    # `stripe` reads its API key from the secret `payment_secret_name`, which the stack creates.
    legal_entity: str = "ACME-DE"
    payment_provider: str = field(kw_only=True)
    # Tax: the VAT registry that checks a business customer's EU VAT number at capture: `vies`
    # (the EU Commission's VIES REST API) everywhere but locally, where `local` answers as
    # API.md says (format and check digits; a number ending in 99 is not registered).
    vat_registry: str = "vies"
    # Feeds: the channels that send orders over SQS, each with its own intake queue, and the
    # principals allowed to send to it (the queue's policy denies every other principal). A
    # channel here is the channel principal its orders are captured for (its API key's
    # principal id). An empty tuple of senders: the queue exists and accepts nothing.
    feed_channels: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Reconciliation (functions/reconcile): how often the reconciler runs (EventBridge
    # Scheduler), how long after its capture (and at least between checks) an order not final
    # is due for a check, and how long a notice's claim holds a channel it is sending before
    # the reconciler may have it sent again (far above the 15 s an invocation may take).
    reconcile_rate: Duration = field(default_factory=lambda: Duration.minutes(5))
    reconcile_after: Duration = field(default_factory=lambda: Duration.minutes(15))
    notice_lease: Duration = field(default_factory=lambda: Duration.minutes(5))
    # Monitoring
    alarms: AlarmThresholds = AlarmThresholds(
        api_5xx_per_5_min=5,
        api_function_p99_ms=3000,
        authorizer_errors_per_5_min=0,
        stream_iterator_age_ms=60_000,
    )

    # ----- names (one place; every physical name carries the environment) -----
    @property
    def prefix(self) -> str:
        return f"{SERVICE}-{self.name}"

    @property
    def stack_name(self) -> str:
        return f"Oms-{self.name}"

    @property
    def api_name(self) -> str:
        return self.prefix

    @property
    def event_bus_name(self) -> str:
        return self.prefix

    def function_name(self, capability: str, role: str) -> str:
        return f"{self.prefix}-{capability}-{role}"

    @property
    def reconcile_schedule_name(self) -> str:
        return f"{self.prefix}-reconcile"

    def state_machine_name(self, workflow: str) -> str:
        return f"{self.prefix}-{workflow.replace('_', '-')}"

    def queue_name(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def secret_name(self, purpose: str) -> str:
        return f"{self.prefix}/{purpose}"

    @property
    def payment_secret_name(self) -> str | None:
        """The Secrets Manager secret holding the payment provider's API key (None: no secret)."""
        if self.payment_provider == LOCAL_PAYMENT_PROVIDER:
            return None
        return self.secret_name(f"{self.payment_provider}-api-key")

    def intake_queue_name(self, channel: str) -> str:
        """`oms-<env>-intake-<channel>`: the intake function reads the channel from this name
        (functions/capture/feeds.py, ``feed_queue``)."""
        return self.queue_name(f"intake-{channel}")


_PROD_THROTTLES = MappingProxyType(
    {
        "channel": Throttle(rate_limit=200, burst_limit=400),
        "node": Throttle(rate_limit=50, burst_limit=100),
        "agent": Throttle(rate_limit=20, burst_limit=40),
        "finance": Throttle(rate_limit=10, burst_limit=20),
    }
)


def _feeds(env: str, *channels: str) -> Mapping[str, tuple[str, ...]]:
    """Example feeds of a deployed environment: each channel's connector runs as its own role,
    `oms-<env>-feed-<channel>` (created with the connector, outside this stack)."""
    return MappingProxyType({channel: (f"role/{SERVICE}-{env}-feed-{channel}",) for channel in channels})


CONFIGS: Mapping[str, EnvironmentConfig] = MappingProxyType(
    {
        # Emulator-specific differences of `local` are not settings: see environments.py.
        "local": EnvironmentConfig(
            name="local",
            log_retention=logs.RetentionDays.ONE_DAY,
            payment_provider="local",
            vat_registry="local",
            # Locally the schedule fires on the local time scale (localcloud/schedules.py: a
            # week is 6,048 s, 1 h 41 min, at the default 0.01), so a run — 8 Queries, and the
            # steps of whatever earlier tests left open — never lands inside `make bench`'s
            # measured orders or an e2e test that counts requests. Run it on demand with
            # POST /_local/schedules/reconcile/run.
            reconcile_rate=Duration.days(7),
            # the local seed's two channels; any local client (the account) may send
            feed_channels=MappingProxyType(
                {"webshop": (FEED_SENDER_ACCOUNT,), "marketplace": (FEED_SENDER_ACCOUNT,)}),
        ),
        "dev": EnvironmentConfig(name="dev", log_retention=logs.RetentionDays.ONE_WEEK, payment_provider="stripe",
                                 feed_channels=_feeds("dev", "webshop", "marketplace")),
        "staging": EnvironmentConfig(name="staging", log_retention=logs.RetentionDays.ONE_MONTH,
                                     payment_provider="stripe",
                                     feed_channels=_feeds("staging", "webshop", "marketplace")),
        "prod": EnvironmentConfig(
            name="prod",
            payment_provider="stripe",
            feed_channels=_feeds("prod", "webshop", "marketplace", "wholesale-edi"),
            memory_mb=1024,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
            stage_throttle=Throttle(rate_limit=500, burst_limit=1000),
            usage_plan_throttles=_PROD_THROTTLES,
            alarms=AlarmThresholds(
                api_5xx_per_5_min=1,
                api_function_p99_ms=2000,
                authorizer_errors_per_5_min=0,
                stream_iterator_age_ms=30_000,
            ),
        ),
    }
)


def resolve_environments(requested: str) -> tuple[str, ...]:
    """`-c env=` value → the environments to synthesize."""
    if requested == ALL:
        return ENVIRONMENTS
    if requested not in ENVIRONMENTS:
        raise ValueError(f"env must be one of {(*ENVIRONMENTS, ALL)}, got {requested!r}")
    return (requested,)
