"""WTForms forms for the pages; each carries a CSRF token and keeps what was typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class TokenForm(FlaskForm):
    """A label for a new personal API token."""

    label = StringField(_l("Label"), validators=[DataRequired(), Length(min=1, max=100)],
                        render_kw={"placeholder": "slicer laptop"})


class EmptyForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons such as logout and revoke."""
