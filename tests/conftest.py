"""Shared fixtures. Fixtures own global state and restore it afterwards."""

from __future__ import annotations

import time

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


def wait_for(predicate, worker, timeout: float = 10.0):
    """Check *predicate* after each whole turn of *worker* (a :class:`kiosk.threads.Worker`:
    the lane thread, a relay timer, a poll thread) until it holds or *timeout* seconds pass;
    returns its last value. The test waits on the thread itself, never on a sleep."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        left = deadline - time.monotonic()
        if left <= 0 or not worker.settle(left):
            return predicate()
        value = predicate()
    return value
