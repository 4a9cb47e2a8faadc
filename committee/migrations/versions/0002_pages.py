"""The committee's pages: accounts and their sites, server-side sessions, the audit list;
alarms kept with the event that raised them and what was done about them.

The gates' alarm events stored before this revision become alarms too, open, so that the
pages show them until someone records what was done.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "account_sites",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_sites_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_account_sites_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "site_id", name=op.f("pk_account_sites")),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_audit_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_at", ["at"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_web_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_account_id"), ["account_id"], unique=False
        )

    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roster_version", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("roster_pulled_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("lane", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ack_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ack_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("value_c", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_alerts_event_id"), ["event_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_event_id_events"), "events", ["event_id"], ["id"]
        )

    _alarms_from_stored_events()


def _alarms_from_stored_events() -> None:
    """Alarms for the alarm events already stored, acknowledged where the gate's guard
    recorded an ``alert.fever_ack``; the same rules as :mod:`committee.alarms` at ingest."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, gate_id, event_id, occurred_at, lane, type, data FROM events "
            "WHERE type IN ('alert.fever', 'alert.sensor_fault', 'door.forced', "
            "'alert.fever_ack') ORDER BY id"
        )
    ).all()
    alerts = sa.table(
        "alerts",
        sa.column("gate_id"),
        sa.column("kind"),
        sa.column("raised_at"),
        sa.column("detail", sa.JSON()),
        sa.column("count"),
        sa.column("event_id"),
        sa.column("lane"),
        sa.column("ack_at"),
        sa.column("ack_by"),
        sa.column("outcome"),
        sa.column("value_c"),
    )
    raised = {}
    acks = {}
    for row in rows:
        data = row.data if isinstance(row.data, dict) else json.loads(row.data or "{}")
        if not isinstance(data, dict):
            continue
        if row.type == "alert.fever_ack":
            acks[_uuid(data.get("fever_id"))] = (row.occurred_at, data)
            continue
        if row.type == "alert.sensor_fault" and data.get("state") != "fault":
            continue
        raised[_uuid(row.event_id)] = {
            "gate_id": row.gate_id,
            "kind": row.type,
            "raised_at": row.occurred_at,
            "detail": data,
            "count": 1,
            "event_id": row.id,
            "lane": row.lane,
            "ack_at": None,
            "ack_by": None,
            "outcome": None,
            "value_c": None,
        }
    for fever_id, (at, data) in acks.items():
        alarm = raised.get(fever_id)
        if alarm is None or alarm["kind"] != "alert.fever":
            continue
        value = data.get("temperature_c")
        alarm.update(
            ack_at=at,
            ack_by=f"gate:{str(data.get('by') or '')[:70]}",
            outcome=str(data.get("outcome") or "")[:20] or None,
            value_c=value if isinstance(value, int | float) else None,
        )
    if raised:
        op.bulk_insert(alerts, list(raised.values()))


def _uuid(value) -> str | None:
    """A UUID as one text whatever the engine gave (SQLite keeps 32 hex digits)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def downgrade() -> None:
    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.drop_column("roster_pulled_at")
        batch_op.drop_column("roster_version")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_event_id_events"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_alerts_event_id"), type_="unique")
        batch_op.drop_column("note")
        batch_op.drop_column("value_c")
        batch_op.drop_column("outcome")
        batch_op.drop_column("ack_by")
        batch_op.drop_column("ack_at")
        batch_op.drop_column("lane")
        batch_op.drop_column("event_id")

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_account_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_at")

    op.drop_table("audit")
    op.drop_table("account_sites")
    op.drop_table("accounts")
