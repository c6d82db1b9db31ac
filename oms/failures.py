"""Expected failures: said in one short red line with a non-zero exit, never as a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class OmsError(Exception):
    """A failure the operator can act on; its message says how."""


@contextmanager
def as_oms_errors() -> Iterator[None]:
    """Turn the failures an operator meets (bad input, no credentials, AWS refusing) into OmsError."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    from functions.core.errors import DomainError

    try:
        yield
    except OmsError:
        raise
    except DomainError as e:
        raise OmsError(str(e)) from e
    except NoCredentialsError as e:
        raise OmsError("no AWS credentials: log in to the environment's account first (e.g. `aws sso login`)") from e
    except NoRegionError as e:
        raise OmsError("no AWS region: set AWS_REGION (or a profile's region)") from e
    except ClientError as e:
        error = e.response.get("Error", {})
        raise OmsError(f"AWS refused {e.operation_name}: {error.get('Code')}: {error.get('Message')}") from e
    except BotoCoreError as e:
        raise OmsError(f"AWS: {e}") from e
