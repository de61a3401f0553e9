"""Forms gatekeepers fill in: machines, members, nodes, reservations and the ledger."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class MachineForm(FlaskForm):
    """A machine's name and profile, typed or imported from a TOML file."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(min=1, max=60)])
    profile = TextAreaField(_l("Profile (TOML)"), validators=[Optional(), Length(max=100_000)])
    profile_file = FileField(_l("…or import a profile TOML file"),
                             render_kw={"accept": ".toml,text/plain"})


class ProfileForm(FlaskForm):
    """A machine's profile, edited as TOML."""

    profile = TextAreaField(_l("Profile (TOML)"),
                            validators=[DataRequired(), Length(max=100_000)])


class StateForm(FlaskForm):
    """Take a machine into maintenance or to-check, or back into service."""

    state = SelectField(_l("New state"), choices=[SelectChoice("maintenance", _l("maintenance")),
                                                  SelectChoice("to_check", _l("to check")),
                                                  SelectChoice("idle", _l("in service (idle)"))])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class RoleForm(FlaskForm):
    """A member's role."""

    role = SelectField(_l("Role"), choices=[SelectChoice("maker", _l("maker")),
                                            SelectChoice("gatekeeper", _l("gatekeeper")),
                                            SelectChoice("admin", _l("admin"))])


class CertifyForm(FlaskForm):
    """Certify a member on a machine class, with an optional expiry date."""

    machine_class = SelectField(_l("Machine class"), validators=[DataRequired()])
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()])


class MemberClassForm(FlaskForm):
    """Which member class (quotas) a member belongs to."""

    member_class = SelectField(_l("Member class"), validators=[DataRequired()])


class NodeForm(FlaskForm):
    """Register a node for a machine; it gets a one-time enrolment code."""

    machine_id = SelectField(_l("Machine"), coerce=int, validators=[DataRequired()])
    name = StringField(_l("Node name"), validators=[Optional(), Length(max=60)])


class ReservationForm(FlaskForm):
    """Book a machine for a member."""

    machine_id = SelectField(_l("Machine"), coerce=int, validators=[DataRequired()])
    username = StringField(_l("Member's username"), validators=[DataRequired(), Length(max=64)])
    starts_at = StringField(_l("Starts (UTC, e.g. 2026-12-01T14:00:00Z)"),
                            validators=[DataRequired(), Length(max=40)])
    ends_at = StringField(_l("Ends (UTC)"), validators=[DataRequired(), Length(max=40)])


class ProofForm(FlaskForm):
    """Ask for the inclusion proof of one ledger entry."""

    entry = IntegerField(_l("Entry number"), validators=[InputRequired(message=_l(
        "Give an entry number.")), NumberRange(min=0)])


class CorrectionForm(FlaskForm):
    """Correct a ledger entry: a new entry that points to the old one."""

    entry = IntegerField(_l("Entry number"), validators=[InputRequired(message=_l(
        "Give an entry number.")), NumberRange(min=0)])
    reason = SelectField(_l("Correction"), choices=[
        SelectChoice("fix", _l("fix the quantity")),
        SelectChoice("waiver", _l("waive (quantity becomes 0)"))])
    quantity = IntegerField(_l("Corrected quantity (seconds, or mg of material)"),
                            validators=[Optional(), NumberRange(min=0)])
    note = StringField(_l("Note"), validators=[DataRequired(), Length(min=3, max=200)])


class QuotaForm(FlaskForm):
    """A member class and its quotas (empty means no limit)."""

    name = StringField(_l("Member class"), validators=[DataRequired(), Length(max=40)])
    weekly_hours_per_class = DecimalField(_l("Weekly hours per machine class"),
                                          validators=[Optional(), NumberRange(min=0)])
    max_job_hours = DecimalField(_l("Longest job, in hours"),
                                 validators=[Optional(), NumberRange(min=0.01)])
    max_queued_jobs = IntegerField(_l("Jobs waiting at once"),
                                   validators=[Optional(), NumberRange(min=1)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
