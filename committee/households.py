"""Importing the household register (居民名册) of a site from CSV or XLSX.

The file is the site's whole register, one household a row, with a header row. Columns (in
any order, Chinese or English headings; other columns such as names or phone numbers are
ignored and never stored):

==================  ==========================  =============================================
column              headings                    value
==================  ==========================  =============================================
household           户号, 房号, household         building-room, e.g. ``7-1201`` (required)
members             人数, 户内人数, members         whole number of people, 0 to 50 (required)
exit_quota_per_day  每日外出次数, 外出限额,       outings a day, 0 to 20; empty: the gate's rule
                    exit_quota_per_day
==================  ==========================  =============================================

:func:`read_register` checks every row and raises :class:`~committee.errors.ImportRefused`
naming each bad line and why, so a file with one bad row imports nothing. :func:`plan`
compares the rows with the stored register (the preview: added, changed, unchanged, and
households missing from the file); :func:`apply` carries a plan out in the caller's
transaction and gives the roster a new version when anything changed. Missing households are
removed (and their passes revoked) only when asked.

CSV is read as UTF-8 (with or without BOM), else GB 18030 (what Excel in Chinese saves).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from committee import audit
from committee.errors import ImportRefused, NotFound, Refused
from committee.models import Household, Pass, Site
from committee.sites import touch_roster
from kiosk.passes import HOUSEHOLD_MAX

COLUMNS = {
    "household": ("household", "户号", "房号"),
    "members": ("members", "人数", "户内人数"),
    "exit_quota_per_day": ("exit_quota_per_day", "每日外出次数", "外出限额"),
}
REQUIRED = ("household", "members")
MAX_MEMBERS = 50
MAX_QUOTA = 20
MAX_ROWS = 100_000
_HOUSEHOLD = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]*$")


@dataclass(frozen=True)
class Row:
    line: int
    household: str
    members: int
    exit_quota_per_day: int | None


@dataclass
class Register:
    """The checked rows of a file, and the columns it had that are not imported."""

    rows: list[Row]
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What an import would change (the preview)."""

    added: list[Row] = field(default_factory=list)
    changed: list[tuple[Household, Row]] = field(default_factory=list)
    unchanged: int = 0
    missing: list[Household] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed)


def _cells(path: Path) -> list[list[object]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_cells(path)
    if suffix != ".csv":
        raise ImportRefused(f"{path}: the register is read from .csv or .xlsx, not {suffix!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot read: {exc.strerror}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportRefused(f"{path}: neither UTF-8 nor GB 18030 text (save it as CSV UTF-8)")
    return list(csv.reader(io.StringIO(text, newline="")))


def _xlsx_cells(path: Path) -> list[list[object]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, BadZipFile, KeyError, ValueError) as exc:
        raise ImportRefused(f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _number(value: object, name: str, low: int, high: int, *, optional: bool) -> int | None:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    text = _text(value)
    if not text:
        if optional:
            return None
        raise ValueError(f"{name} is empty")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not number.is_integer() or not low <= number <= high:
        raise ValueError(f"{name} {text!r} must be a whole number from {low} to {high}")
    return int(number)


def _household(value: object) -> str:
    if isinstance(value, datetime | date):
        raise ValueError(
            "household became a date in the spreadsheet; format the column as text (文本)"
        )
    code = _text(value).upper()
    if not code:
        raise ValueError("household is empty")
    if not _HOUSEHOLD.match(code) or len(code.encode("utf-8")) > HOUSEHOLD_MAX:
        raise ValueError(
            f"household {code!r} must be building-room such as 7-1201 (letters, digits, '-'; "
            f"at most {HOUSEHOLD_MAX} characters)"
        )
    return code


def read_register(path: str | Path) -> Register:
    """Read and check every row of the register file *path*.

    :raises ImportRefused: the file cannot be read, its header lacks a required column, or
        any row is bad (:attr:`~ImportRefused.problems` has one line per bad row).
    """
    path = Path(path)
    cells = _cells(path)
    header_at = next((i for i, row in enumerate(cells) if any(_text(c) for c in row)), None)
    if header_at is None:
        raise ImportRefused(f"{path}: the file is empty")
    header = [_text(c).lower() for c in cells[header_at]]
    where: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(header):
        column = next((k for k, names in COLUMNS.items() if name in names), None)
        if column is None:
            if name:
                ignored.append(name)
        elif column in where:
            raise ImportRefused(f"{path}: line {header_at + 1}: column {name!r} appears twice")
        else:
            where[column] = index
    lacking = [c for c in REQUIRED if c not in where]
    if lacking:
        wanted = "; ".join(f"{c} ({' / '.join(COLUMNS[c])})" for c in lacking)
        raise ImportRefused(f"{path}: line {header_at + 1}: the header lacks {wanted}")
    rows: list[Row] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, values in enumerate(cells[header_at + 1 :], start=header_at + 2):
        if not any(_text(c) for c in values):
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            raise ImportRefused(f"{path}: more than {MAX_ROWS} rows")

        def cell(column: str, values=values) -> object:
            index = where.get(column)
            return values[index] if index is not None and index < len(values) else None

        try:
            code = _household(cell("household"))
            members = _number(cell("members"), "members", 0, MAX_MEMBERS, optional=False)
            quota = _number(
                cell("exit_quota_per_day"), "exit_quota_per_day", 0, MAX_QUOTA, optional=True
            )
            if code in first_line:
                raise ValueError(f"household {code} is already on line {first_line[code]}")
        except ValueError as exc:
            problems.append(f"{path.name} line {number}: {exc}")
            continue
        first_line[code] = number
        rows.append(Row(number, code, members, quota))
    if problems:
        count = f"{len(problems)} bad row{'s' if len(problems) != 1 else ''}"
        raise ImportRefused(f"{path}: {count}; nothing was imported", problems)
    return Register(rows, ignored)


def present(site_id: int):
    """The query of a site's households that are in the register (not removed), by code."""
    return (
        select(Household)
        .where(Household.site_id == site_id, Household.removed_at.is_(None))
        .order_by(Household.code)
    )


def plan(session: Session, site: Site, register: Register) -> Plan:
    """Compare *register* with what *site* holds."""
    stored = {
        h.code: h for h in session.scalars(select(Household).where(Household.site_id == site.id))
    }
    result = Plan(ignored_columns=register.ignored_columns)
    for row in register.rows:
        known = stored.get(row.household)
        if known is None:
            result.added.append(row)
        elif (
            known.removed_at is not None
            or known.members != row.members
            or known.exit_quota_per_day != row.exit_quota_per_day
        ):
            result.changed.append((known, row))
        else:
            result.unchanged += 1
    in_file = {row.household for row in register.rows}
    result.missing = [
        h for code, h in sorted(stored.items()) if code not in in_file and h.removed_at is None
    ]
    return result


def apply(
    session: Session,
    site: Site,
    change: Plan,
    now: datetime,
    *,
    remove_missing: bool = False,
    actor: str = "cli",
) -> None:
    """Carry out *change* (from :func:`plan` in the same transaction); the audit list gets
    one entry for the import, naming what it added, changed and removed."""
    for row in change.added:
        session.add(
            Household(
                site_id=site.id,
                code=row.household,
                members=row.members,
                exit_quota_per_day=row.exit_quota_per_day,
                created_at=now,
            )
        )
    before = [(h.members, h.exit_quota_per_day) for h, _ in change.changed]
    for household, row in change.changed:
        household.members = row.members
        household.exit_quota_per_day = row.exit_quota_per_day
        household.removed_at = None
    removed = change.missing if remove_missing else []
    for household in removed:
        household.removed_at = now
    if removed:
        session.execute(
            update(Pass)
            .where(Pass.household_id.in_([h.id for h in removed]), Pass.status != "revoked")
            .values(status="revoked", changed_at=now)
        )
    if change.changes or removed:
        touch_roster(session, site.id, now)
        audit.record(
            session,
            actor,
            "households.import",
            now,
            site_id=site.id,
            target=site.code,
            detail={
                "added": [row.household for row in change.added],
                "changed": {
                    h.code: {
                        "members": [h_before[0], row.members],
                        "exit_quota_per_day": [h_before[1], row.exit_quota_per_day],
                    }
                    for (h, row), h_before in zip(change.changed, before, strict=True)
                },
                "removed": [h.code for h in removed],
            },
        )
    session.flush()


def set_quota(
    session: Session,
    site: Site,
    code: str,
    quota: int | None,
    now: datetime,
    *,
    actor: str = "cli",
) -> Household:
    """Set the exit quota (outings a day; None: the gate's own rule) of household *code*."""
    if quota is not None and not 0 <= quota <= MAX_QUOTA:
        raise Refused(f"an exit quota is a whole number from 0 to {MAX_QUOTA}, or empty")
    household = session.scalar(present(site.id).where(Household.code == code))
    if household is None:
        raise NotFound(f"no household {code!r} at site {site.code}")
    before = household.exit_quota_per_day
    if before == quota:
        return household
    household.exit_quota_per_day = quota
    touch_roster(session, site.id, now)
    audit.record(
        session,
        actor,
        "household.quota",
        now,
        site_id=site.id,
        target=code,
        detail={"from": before, "to": quota},
    )
    return household
