"""Shared fixtures. Fixtures own global state and restore it afterwards."""

from __future__ import annotations

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from kiosk.clock import FakeClock


@pytest.fixture
def mock_factory():
    """gpiozero's own mock pin factory, installed as the default and removed afterwards."""
    saved = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved


@pytest.fixture
def clock():
    return FakeClock()
