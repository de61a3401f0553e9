"""Forms makers fill in: an upload, and the confirmation that queues it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp


def _optional_id(value: object) -> int | None:
    return int(value) if value not in (None, "", "None") else None  # type: ignore[arg-type]


class UploadForm(FlaskForm):
    """A G-code file, the machine class to run it on, material and a preferred machine."""

    file = FileField(_l("G-code file"), validators=[FileRequired(_l("Choose a G-code file."))],
                     render_kw={"accept": ".gcode,.gco,.g,.nc,.ngc,.tap"})
    machine_class = SelectField(_l("Machine class"), validators=[DataRequired()])
    material = StringField(_l("Material (for 3D printers, e.g. PLA)"),
                           validators=[Optional(), Length(max=40)])
    preferred_machine_id = SelectField(_l("Preferred machine (optional)"),
                                       coerce=_optional_id, validate_choice=False)
    name = StringField(_l("Job name (optional)"), validators=[Optional(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """The analysed upload, queued as it was previewed."""

    preview = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    machine_class = HiddenField(validators=[DataRequired(), Length(max=40)])
    material = HiddenField(validators=[Optional(), Length(max=40)])
    preferred_machine_id = HiddenField(validators=[Optional(), Regexp(r"^\d*$")])
    name = HiddenField(validators=[Optional(), Length(max=200)])
    filename = HiddenField(validators=[Optional(), Length(max=200)])
