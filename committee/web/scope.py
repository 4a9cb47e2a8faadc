"""Which sites a page shows: the viewer's, narrowed by ``?site=CODE`` (``all``: every one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import g, request
from sqlalchemy import select

from committee.models import Site


@dataclass(frozen=True)
class Scope:
    """*sites*: the sites the viewer sees; *site*: the one chosen (None: all of them);
    :attr:`site_ids`: what the queries take (None: every site of the server)."""

    sites: list[Site]
    site: Site | None
    everything: bool

    @property
    def site_ids(self) -> frozenset[int] | None:
        if self.site is not None:
            return frozenset({self.site.id})
        return None if self.everything else frozenset(s.id for s in self.sites)

    @property
    def code(self) -> str:
        return self.site.code if self.site else "all"


def scope(session, *, default_all: bool = True) -> Scope:
    """The scope of this request for ``g.viewer``; an unknown or foreign ``?site`` is the
    viewer's default (all its sites, or its first when *default_all* is false)."""
    viewer = g.viewer
    stmt = select(Site).order_by(Site.code)
    if viewer.site_ids is not None:
        stmt = stmt.where(Site.id.in_(sorted(viewer.site_ids)))
    sites = list(session.scalars(stmt))
    wanted = request.args.get("site", "")
    chosen = next((s for s in sites if s.code == wanted), None)
    if chosen is None and wanted != "all" and (not default_all or len(sites) == 1) and sites:
        chosen = sites[0]
    return Scope(sites, chosen, viewer.site_ids is None)


def day_arg(default: date, name: str = "day") -> date:
    """The day in ``?<name>=YYYY-MM-DD``, or *default* when it is missing or no date."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default
