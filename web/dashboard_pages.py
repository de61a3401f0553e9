"""The gatekeepers' dashboard: utilisation per machine and hours per member class, as charts."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, render_template
from flask_babel import gettext as _

from fabhub.auth import role_required
from fabhub.jobqueue.machines import list_machines
from fabhub.ledger.reports import machine_utilisation, usage_hours
from fabhub.request_db import get_db
from fabhub.web.charts import Bar, bar_chart

bp = Blueprint("dashboard_pages", __name__)


@bp.get("/dashboard")
@role_required("gatekeeper")
def dashboard() -> str:
    """This month's utilisation per machine, and all recorded hours per member class."""
    db = get_db()
    names = {m.id: m.name for m in list_machines(db)}
    rows = machine_utilisation(db, "month")
    latest = max((u.period for u in rows), default=None)
    utilisation = [Bar(names.get(u.machine_id, str(u.machine_id)), 100 * u.fraction)
                   for u in rows if u.period == latest]
    member_classes = dict(db.execute("SELECT id, member_class FROM members").fetchall())
    per_class: dict[str, float] = defaultdict(float)
    for member_id, hours in usage_hours(db).items():
        per_class[member_classes.get(member_id, "?")] += sum(hours.values())
    return render_template(
        "dashboard.html", period=latest,
        utilisation_chart=bar_chart(_("Utilisation per machine"), utilisation, "%"),
        class_chart=bar_chart(_("Hours per member class"),
                              [Bar(k, v) for k, v in sorted(per_class.items())], "h"))
