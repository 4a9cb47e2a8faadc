"""The committee's tables, grouped by domain (one module each), on one SQLAlchemy metadata.

``sites`` (compounds, households, home observation, the roster version), ``gates`` (gates,
their tokens, heartbeats and alerts), ``passes`` (passes and signing keys) and ``events``
(every record the gates uploaded), ``accounts`` (the pages' accounts, their sessions and the
audit list of every change). Alembic's migrations in ``committee/migrations`` build
exactly these; a test checks that the migrated schema and this metadata agree.
"""

from committee.models.accounts import ROLES, Account, AuditEntry, WebSession, account_sites
from committee.models.base import Base, utcnow
from committee.models.events import Event
from committee.models.gates import Alert, Gate, Heartbeat
from committee.models.passes import Pass, SigningKey
from committee.models.sites import HomeObservation, Household, Site

metadata = Base.metadata

__all__ = [
    "ROLES",
    "Account",
    "Alert",
    "AuditEntry",
    "Base",
    "Event",
    "Gate",
    "Heartbeat",
    "HomeObservation",
    "Household",
    "Pass",
    "SigningKey",
    "Site",
    "WebSession",
    "account_sites",
    "metadata",
    "utcnow",
]
