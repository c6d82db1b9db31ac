"""The simulated-time factor (localcloud.timescale)."""

from __future__ import annotations

import pytest

from localcloud import timescale


def test_the_environment_variable_is_read_when_waiting_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no set_scale() call (the session fixture made one; undone here)
    monkeypatch.setattr(timescale, "_scale", None)
    # When LOCALCLOUD_TIME_SCALE is set after localcloud was imported
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.5")
    # Then waits use it, and the default once it is gone
    assert timescale.seconds(10) == 5.0
    monkeypatch.delenv("LOCALCLOUD_TIME_SCALE")
    assert timescale.seconds(10) == pytest.approx(0.1)
    # and set_scale() wins over the environment
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.5")
    timescale.set_scale(0.25)
    assert timescale.seconds(10) == 2.5
