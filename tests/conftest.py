"""Settings every tier shares: the Powertools variables the deployed functions get from the
template (docs/ARCHITECTURE.md, "Environment variables")."""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "oms")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OMS")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
