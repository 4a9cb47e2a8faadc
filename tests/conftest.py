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


def self_signed_cert(folder, host: str = "127.0.0.1"):
    """A self-signed certificate for *host* and its key, as PEM files in *folder*:
    ``(cert path, key path)`` (the guard screen's HTTPS on the compound LAN)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "screen.crt", folder / "screen.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
