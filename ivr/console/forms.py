"""The console's forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ivr.store.console_tables import ROLES
from ivr.store.tables import CASE_STATUSES

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Usuario"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Contraseña"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class OverrideForm(FlaskForm):
    """Force a line open or closed until a local time, with a reason."""

    state = SelectField(_l("Estado"), choices=[SelectChoice("closed", _l("Cerrada")),
                                                SelectChoice("open", _l("Abierta"))])
    node = SelectField(_l("Nodo"), choices=[], validate_choice=False)
    until = DateTimeLocalField(_l("Hasta (hora local)"), format=LOCAL_FORMAT,
                               validators=[DataRequired()])
    reason = StringField(_l("Motivo"), validators=[DataRequired(), Length(max=200)])


class OnCallForm(FlaskForm):
    """Put a rotation's contact on call for a dated period."""

    rotation = SelectField(_l("Rotación"), choices=[], validate_choice=False)
    contact = SelectField(_l("Contacto"), choices=[], coerce=int, validate_choice=False)
    starts = DateTimeLocalField(_l("Desde (hora local)"), format=LOCAL_FORMAT,
                                validators=[DataRequired()])
    until = DateTimeLocalField(_l("Hasta (hora local)"), format=LOCAL_FORMAT,
                               validators=[DataRequired()])
    reason = StringField(_l("Motivo"), validators=[Optional(), Length(max=200)])


class CaseStatusForm(FlaskForm):
    """A case's new status and level, with a note."""

    status = SelectField(_l("Estado"), choices=[SelectChoice(s) for s in CASE_STATUSES])
    level = IntegerField(_l("Nivel"), validators=[NumberRange(1, 9)])
    note = TextAreaField(_l("Nota"), validators=[DataRequired(), Length(max=1000)])


class UserForm(FlaskForm):
    """A new account."""

    username = StringField(_l("Usuario"), validators=[DataRequired(), Length(max=60)])
    role = SelectField(_l("Rol"), choices=[SelectChoice(r) for r in ROLES])
    password = PasswordField(_l("Contraseña"), validators=[DataRequired(), Length(max=200)])
    phone = StringField(_l("Teléfono"), validators=[Optional(), Length(max=40)])
    lines = StringField(_l("Líneas (vacío: todas)"), validators=[Optional(), Length(max=400)])


class RoleForm(FlaskForm):
    """An account's new role."""

    role = SelectField(_l("Rol"), choices=[SelectChoice(r) for r in ROLES])


class PasswordForm(FlaskForm):
    """An account's new password."""

    password = PasswordField(_l("Nueva contraseña"),
                             validators=[DataRequired(), Length(max=200)])


class ProfileForm(FlaskForm):
    """One's own phone (the console rings it before the customer)."""

    phone = StringField(_l("Mi teléfono"), validators=[Optional(), Length(max=40)])


class OutcomeForm(FlaskForm):
    """How a claimed callback went, told by hand (or cancel it), with an optional note."""

    outcome = SelectField(_l("Resultado"), choices=[
        SelectChoice("reached", _l("Hablé con el cliente")),
        SelectChoice("no-answer", _l("No contestó")),
        SelectChoice("busy", _l("Ocupado")),
        SelectChoice("voicemail", _l("Buzón de voz")),
        SelectChoice("cancel", _l("Cancelar la devolución"))])
    note = StringField(_l("Nota"), validators=[Optional(), Length(max=300)])
