"""The console's pages, each checking the role on the server and auditing every change.

Login, lines and on-call (supervisors), cases and missed calls (analysts), the dashboard, users
and the audit log.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from wtforms import SelectChoice

from ivr import db
from ivr.console import auth, callme, charts, figures, status
from ivr.console.auth import me, requires
from ivr.console.forms import (
    CaseStatusForm,
    EmptyForm,
    LoginForm,
    OnCallForm,
    OutcomeForm,
    OverrideForm,
    PasswordForm,
    ProfileForm,
    RoleForm,
    UserForm,
)
from ivr.core.callbacks import severity_label
from ivr.core.lines import Line
from ivr.core.moment import Moment
from ivr.core.phone import format_international, normalize_called
from ivr.store import (
    analysts,
    audit,
    call_events,
    cases,
    console_calls,
    missed_calls,
    oncall_overrides,
    overrides,
    users,
)
from ivr.store import callbacks as callback_store
from ivr.store.console_tables import ROLES, ConsoleUser
from ivr.store.tables import CALLBACK_OPEN, CASE_STATUSES, Callback, Case, MissedCall
from ivr.web import twilio_api
from ivr.web.helpers import now
from ivr.web.live_menus import get_lines

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
RECORDING_CHUNK = 64 * 1024
STALE_WAIT = timedelta(hours=12)  # a queue exit never noted (database away) stops showing


@bp.before_request
def _csrf() -> None:
    """Every POST to the console carries its CSRF token (webhooks are signed instead)."""
    if request.method == "POST":
        from flask import current_app
        current_app.extensions["ivr.csrf"].protect()


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    """A form without its token (or an old one): 400, and nothing changed."""
    return render_template("console/error.html", message=_("Formulario vencido o sin token "
                                                           "de seguridad.")), 400


@bp.errorhandler(403)
def _forbidden(error: Any) -> tuple[str, int]:
    """A role that does not reach this page or action."""
    return render_template("console/error.html",
                           message=_("Su rol no tiene acceso a esta página.")), 403


@bp.after_request
def _no_store(response: Response) -> Response:
    """Console pages are private: no cache keeps them, no frame shows them."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    """What every console template may use."""
    return {"console_user": auth.current_user, "allows": auth.allows,
            "international": format_international, "empty_form": EmptyForm}


def _audit(action: str, target: str, before: Any, after: Any) -> None:
    """Write who did what to the audit log."""
    audit.record(db.session(), actor=me().username, action=action, target=target,
                 before=before, after=after, now=now())


def _line(line_id: str) -> Line:
    """The loaded line, or 404."""
    line = get_lines().get(line_id)
    if line is None:
        abort(404)
    return line


def _local(line: Line, value: datetime | None) -> datetime:
    """A naive local time from a form, aware in the line's zone (none given: a bad request)."""
    if value is None:
        abort(400)
    return value.replace(tzinfo=status.zone(line))


def _moment(line: Line) -> Moment:
    """Now, with the line's hours and on-call overrides read fresh from the database."""
    at = now()
    return Moment(at, overrides.active(db.session(), line.id, at),
                  oncall_overrides.active(db.session(), line.id, at))


# --- login --------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; too many failures lock a username (and an address) for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        name = (form.username.data or "").strip().lower()
        if auth.locked_out(name):
            flash(_("Demasiados intentos fallidos. Espere unos minutos."))
            return render_template("console/login.html", form=form), 429
        user = auth.check_login(name, form.password.data or "")
        if user is not None:
            auth.log_in(user)
            target = request.args.get("next", "")
            safe = target.startswith("/console/") and not target.startswith("//")
            return redirect(target if safe else url_for("console.home"))
        flash(_("Usuario o contraseña incorrectos."))
        return render_template("console/login.html", form=form), 401
    return render_template("console/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session."""
    auth.log_out()
    return redirect(url_for("console.login"))


@bp.route("/")
def home() -> Any:
    """The login form for strangers; for the logged-in, each line now and the pages."""
    if auth.current_user() is None:
        return login()
    lines = [(line, status.hours_now(line, now(), _moment(line).overrides))
             for line in _visible_lines()]
    return render_template("console/home.html", lines=lines)


@bp.route("/profile", methods=["GET", "POST"])
@requires("analyst")
def profile() -> Any:
    """One's own phone number (the console rings it before the customer)."""
    user = me()
    form = ProfileForm(phone=user.phone)
    if form.validate_on_submit():
        phone = _phone(form.phone.data)
        if form.phone.data and phone is None:
            flash(_("Número de teléfono no válido."))
        else:
            before = {"phone": user.phone}
            users.set_profile(db.session(), user.username, phone, user.lines)
            _audit("user.phone", f"user:{user.username}", before, {"phone": phone})
            flash(_("Perfil guardado."))
            return redirect(url_for("console.profile"))
    return render_template("console/profile.html", form=form)


def _phone(text: str | None) -> str | None:
    """A phone number in E.164, or None if it is not one."""
    if not text:
        return None
    normalized = normalize_called(text)
    return normalized if normalized and normalized.startswith("+") else None


def _visible_lines() -> list[Line]:
    """The lines the logged-in account works on."""
    return [line for line in get_lines().lines.values() if auth.may_see_line(me(), line.id)]


# --- supervisors: lines, on call, diagrams ----------------------------------------------------


@bp.route("/lines")
@requires("supervisor")
def lines() -> Any:
    """Each line open or closed now, why and until when; the overrides in force."""
    rows = []
    for line in get_lines().lines.values():
        at = _moment(line)
        form = OverrideForm()
        form.node.choices = [SelectChoice("", _("toda la línea")),
                             *(SelectChoice(n) for n in line.spec.nodes)]
        rows.append((line, status.hours_now(line, at.at, at.overrides),
                     overrides.listing(db.session(), at.at), form))
    return render_template("console/lines.html", rows=rows, zone=status.zone)


@bp.route("/lines/<line_id>/override", methods=["POST"])
@requires("supervisor")
def force(line_id: str) -> Any:
    """Force a line (or a node) open or closed until a local time, with a reason."""
    line = _line(line_id)
    form = OverrideForm()
    form.node.choices = [SelectChoice(""), *(SelectChoice(n) for n in line.spec.nodes)]
    if not form.validate():
        flash(_("Revise el formulario: %(errors)s", errors=form.errors))
        return redirect(url_for("console.lines"))
    node = form.node.data or None
    if node is not None and node not in line.spec.nodes:
        abort(400)
    at = now()
    try:
        row = overrides.add(db.session(), line=line.id, node=node,
                            open_=form.state.data == "open", starts_at=at,
                            until=_local(line, form.until.data), reason=form.reason.data,
                            now=at)
    except overrides.OverrideError as e:
        flash(str(e))
        return redirect(url_for("console.lines"))
    _audit("override.add", f"line:{line.id}", None,
           {"id": row.id, "node": node, "state": row.state, "until": row.until,
            "reason": row.reason})
    flash(_("Línea %(line)s: %(state)s hasta %(until)s.", line=line.spec.name,
            state=row.state, until=f"{row.until.astimezone(status.zone(line)):%Y-%m-%d %H:%M}"))
    return redirect(url_for("console.lines"))


@bp.route("/overrides/<int:override_id>/cancel", methods=["POST"])
@requires("supervisor")
def cancel_override(override_id: int) -> Any:
    """End an hours override now."""
    try:
        row = overrides.cancel(db.session(), override_id, now())
    except overrides.OverrideError as e:
        flash(str(e))
    else:
        _audit("override.cancel", f"line:{row.line}", {"id": row.id, "state": row.state},
               {"cancelled_at": row.cancelled_at})
    return redirect(url_for("console.lines"))


@bp.route("/oncall")
@requires("supervisor")
def oncall() -> Any:
    """Who is on call now and next on each line; the dated overrides; the form to add one."""
    rows = []
    for line in get_lines().lines.values():
        if not line.rotations:
            continue
        at = _moment(line)
        form = OnCallForm()
        form.rotation.choices = [SelectChoice(r) for r in line.rotations]
        contacts = next(iter(line.rotations.values())).contacts
        form.contact.choices = [SelectChoice(str(i), f"{c.role} {format_international(c.number)}")
                                for i, c in enumerate(contacts)]
        rows.append((line, status.on_call_now(line, at),
                     oncall_overrides.listing(db.session(), line.id, at.at), form))
    return render_template("console/oncall.html", rows=rows, zone=status.zone)


@bp.route("/oncall/<line_id>", methods=["POST"])
@requires("supervisor")
def oncall_add(line_id: str) -> Any:
    """Put a rotation's contact on call for a dated period (every worker sees it)."""
    line = _line(line_id)
    form = OnCallForm()
    rotation = line.rotations.get(form.rotation.data or "")
    if not form.validate() or rotation is None or not (
            0 <= (form.contact.data or 0) < len(rotation.contacts)):
        flash(_("Revise el formulario: %(errors)s", errors=form.errors or "rotación/contacto"))
        return redirect(url_for("console.oncall"))
    try:
        row = oncall_overrides.add(
            db.session(), line=line.id, rotation=form.rotation.data, contact=form.contact.data,
            starts_at=_local(line, form.starts.data), until=_local(line, form.until.data),
            reason=form.reason.data or None, now=now())
    except overrides.OverrideError as e:
        flash(str(e))
        return redirect(url_for("console.oncall"))
    contact = rotation.contacts[row.contact]
    _audit("oncall.add", f"line:{line.id}/{row.rotation}", None,
           {"id": row.id, "contact": contact.role, "from": row.starts_at, "until": row.until,
            "reason": row.reason})
    flash(_("De turno: %(who)s.", who=contact.role))
    return redirect(url_for("console.oncall"))


@bp.route("/oncall/overrides/<int:override_id>/cancel", methods=["POST"])
@requires("supervisor")
def oncall_cancel(override_id: int) -> Any:
    """End an on-call override now."""
    try:
        row = oncall_overrides.cancel(db.session(), override_id, now())
    except overrides.OverrideError as e:
        flash(str(e))
    else:
        _audit("oncall.cancel", f"line:{row.line}/{row.rotation}", {"id": row.id},
               {"cancelled_at": row.cancelled_at})
    return redirect(url_for("console.oncall"))


@bp.route("/diagrams")
@bp.route("/diagrams/<line_id>")
@requires("supervisor")
def diagrams(line_id: str | None = None) -> Any:
    """The menu diagram of a line (Graphviz's SVG, the one `flask ivr graph --svg` draws)."""
    all_lines = list(get_lines().lines.values())
    line = _line(line_id) if line_id else (all_lines[0] if all_lines else None)
    svg = _svg(line) if line is not None else None
    return render_template("console/diagrams.html", lines=all_lines, line=line, svg=svg)


def _svg(line: Line) -> Markup | None:
    """The line's diagram as inline SVG, or None when Graphviz's dot is not installed."""
    from ivr.admin.diagrams import to_dot

    try:
        out = subprocess.run(["dot", "-Tsvg"], input=to_dot(line), capture_output=True,
                             text=True, check=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    svg = out.stdout[out.stdout.find("<svg"):]
    return Markup(svg)  # our own text, escaped by to_dot and drawn by dot


# --- admins: users; supervisors: audit ---------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@requires("admin")
def users_page() -> Any:
    """Accounts and roles; a new account."""
    form = UserForm()
    if form.validate_on_submit():
        phone = _phone(form.phone.data)
        try:
            user = users.add(db.session(), (form.username.data or "").strip().lower(),
                             form.role.data, form.password.data or "", now(), phone=phone,
                             lines=(form.lines.data or "").replace(" ", ""))
        except users.UserError as e:
            flash(str(e))
        else:
            _audit("user.add", f"user:{user.username}", None,
                   {"role": user.role, "phone": user.phone, "lines": user.lines})
            flash(_("Usuario %(name)s creado.", name=user.username))
            return redirect(url_for("console.users_page"))
    return render_template("console/users.html", form=form, users=users.listing(db.session()),
                           roles=ROLES, role_form=RoleForm, password_form=PasswordForm)


@bp.route("/users/<username>/role", methods=["POST"])
@requires("admin")
def user_role(username: str) -> Any:
    """Change an account's role."""
    form = RoleForm()
    if form.validate():
        try:
            before = users.existing(db.session(), username).role
            user = users.set_role(db.session(), username, form.role.data)
        except users.UserError as e:
            flash(str(e))
        else:
            _audit("user.role", f"user:{username}", {"role": before}, {"role": user.role})
    return redirect(url_for("console.users_page"))


@bp.route("/users/<username>/password", methods=["POST"])
@requires("admin")
def user_password(username: str) -> Any:
    """Give an account a new password (its sessions end)."""
    form = PasswordForm()
    if form.validate():
        try:
            users.set_password(db.session(), username, form.password.data or "")
        except users.UserError as e:
            flash(str(e))
        else:
            _audit("user.reset", f"user:{username}", None, {"password": "(changed)"})
            flash(_("Contraseña cambiada."))
    return redirect(url_for("console.users_page"))


@bp.route("/users/<username>/remove", methods=["POST"])
@requires("admin")
def user_remove(username: str) -> Any:
    """Delete an account (not one's own)."""
    if username == me().username:
        flash(_("No puede borrar su propia cuenta."))
        return redirect(url_for("console.users_page"))
    try:
        user = users.existing(db.session(), username)
        before = {"role": user.role}
        users.remove(db.session(), username)
    except users.UserError as e:
        flash(str(e))
    else:
        _audit("user.remove", f"user:{username}", before, None)
    return redirect(url_for("console.users_page"))


@bp.route("/audit")
@requires("supervisor")
def audit_page() -> Any:
    """The audit log, newest first."""
    return render_template("console/audit.html",
                           entries=audit.listing(db.session(), actor=request.args.get("actor")))


# --- analysts: cases, missed calls ---------------------------------------------------------------


@bp.route("/cases")
@requires("analyst")
def cases_page() -> Any:
    """Cases of one's lines, searched by number, caller or status."""
    text = request.args.get("q", "").strip()[:40]
    state = request.args.get("status", "")
    query = sa.select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(100)
    visible = [line.id for line in _visible_lines()]
    query = query.where(Case.line.in_(visible))
    if state in CASE_STATUSES:
        query = query.where(Case.status == state)
    if text:
        digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
        query = query.where(sa.or_(Case.number == text,
                                   Case.caller.contains(digits or text, autoescape=True)))
    rows = db.session().scalars(query).all()
    return render_template("console/cases.html", cases=rows, q=text, state=state,
                           statuses=CASE_STATUSES)


def _case(number: str) -> tuple[Case, Line]:
    """A case of one of the account's lines, or 404."""
    case = cases.case_with_calls(db.session(), number[:12])
    if case is None or not auth.may_see_line(me(), case.line):
        abort(404)
    return case, _line(case.line)


@bp.route("/cases/<number>")
@requires("analyst")
def case_page(number: str) -> Any:
    """A case: every call that touched it, its recording and transcription, its history."""
    case, line = _case(number)
    form = CaseStatusForm(status=case.status, level=case.level)
    history = [e for e in audit.listing(db.session(), limit=500)
               if e.target == f"case:{case.number}"]
    return render_template("console/case.html", case=case, line=line, form=form,
                           history=history, console_calls=console_calls.of_case(
                               db.session(), case.number))


@bp.route("/cases/<number>/status", methods=["POST"])
@requires("analyst")
def case_status(number: str) -> Any:
    """Change a case's status and level, with a note (kept in the audit log)."""
    case, _line_ = _case(number)
    form = CaseStatusForm()
    if not form.validate():
        flash(_("Revise el formulario: %(errors)s", errors=form.errors))
        return redirect(url_for("console.case_page", number=case.number))
    before = {"status": case.status, "level": case.level}
    cases.set_status(db.session(), case.number, form.status.data, now(), form.level.data)
    _audit("case.status", f"case:{case.number}", before,
           {"status": form.status.data, "level": form.level.data, "note": form.note.data})
    flash(_("Caso %(number)s: %(status)s.", number=case.number, status=form.status.data))
    return redirect(url_for("console.case_page", number=case.number))


@bp.route("/cases/<number>/call", methods=["POST"])
@requires("analyst")
def case_call(number: str) -> Any:
    """"Call me, then the customer" for this case."""
    case, line = _case(number)
    try:
        row = callme.place(me(), line, case)
    except (callme.CallMeError, twilio_api.NotConfigured) as e:
        flash(_("No se pudo llamar: %(why)s", why=str(e)))
    else:
        flash(_("Llamando a su teléfono (llamada %(id)s)…", id=row.id))
    return redirect(url_for("console.case_page", number=case.number))


@bp.route("/cases/<number>/recording")
@requires("analyst")
def case_recording(number: str) -> Any:
    """The case's recording, fetched from Twilio with the account's credentials."""
    case, _line_ = _case(number)
    return _recording(case.recording_url)


@bp.route("/missed")
@requires("analyst")
def missed() -> Any:
    """Calls nobody took, with their voice messages, of one's lines."""
    visible = {line.id for line in _visible_lines()}
    rows = [r for r in missed_calls.listing(db.session(), limit=200) if r.line in visible]
    return render_template("console/missed.html", rows=rows)


@bp.route("/missed/<int:missed_id>/recording")
@requires("analyst")
def missed_recording(missed_id: int) -> Any:
    """A voice message, fetched from Twilio with the account's credentials."""
    row = db.session().get(MissedCall, missed_id)
    if row is None or not auth.may_see_line(me(), row.line):
        abort(404)
    return _recording(row.recording_url)


@bp.route("/missed/<int:missed_id>/handled", methods=["POST"])
@requires("analyst")
def missed_handled(missed_id: int) -> Any:
    """Mark a missed call as handled (someone called back)."""
    row = db.session().get(MissedCall, missed_id)
    if row is None or not auth.may_see_line(me(), row.line):
        abort(404)
    before = {"handled_at": row.handled_at}
    row.handled_at = now()
    db.session().commit()
    _audit("missed.handled", f"missed:{row.id}", before, {"handled_at": row.handled_at})
    return redirect(url_for("console.missed"))


def _recording(url: str | None) -> Any:
    """Stream a Twilio recording (MP3) through the app; its URL needs the credentials."""
    target = twilio_api.media_url(url or "")
    if target is None:
        abort(404)
    try:
        upstream = requests.get(target + ".mp3", auth=twilio_api.credentials(), stream=True,
                                timeout=10)
    except requests.RequestException:
        abort(502)
    if upstream.status_code != 200:
        upstream.close()
        abort(502)

    def body() -> Iterator[bytes]:
        """The recording's bytes, as they come."""
        with upstream:
            yield from upstream.iter_content(RECORDING_CHUNK)

    return Response(stream_with_context(body()), mimetype="audio/mpeg",
                    headers={"Cache-Control": "private, no-store"})


# --- the dashboard --------------------------------------------------------------------------------


@bp.route("/dashboard")
@requires("supervisor")
def dashboard() -> Any:
    """The dashboard: today and the last 7 days, from the call events in the database.

    Calls per line and hour, how far callers got, priority-1 calls answered.
    """
    all_lines = get_lines().lines
    first = next(iter(all_lines.values()), None)
    zone = status.zone(first) if first is not None else ZoneInfo("UTC")
    at = now()
    start, _today, end = figures.window(at, zone)
    rows = call_events.between(db.session(), start, end)
    found = figures.compute(rows, all_lines, at, zone)
    hourly = charts.columns([(f"{h:02d}", n) for h, n in enumerate(found.per_hour)],
                            _("Llamadas por hora, hoy"))
    daily = charts.columns([(d.strftime("%d/%m"), n) for d, n in found.per_day],
                           _("Llamadas por día, 7 días"))
    reached = charts.bars(found.reached[:25], _("Llamadas que llegaron a cada nodo"))
    asked = callback_store.requested_between(db.session(), lines=list(all_lines), start=start,
                                             end=end)
    severities = {"today": figures.callback_figures(asked, all_lines, at, _today),
                  "week": figures.callback_figures(asked, all_lines, at, start)}
    return render_template("console/dashboard.html", f=found, hourly=hourly, daily=daily,
                           reached=reached, per_line=figures.per_line_table(found),
                           zone=zone, severities=severities, duration=figures.duration)


# --- analysts: callbacks, the queues now ----------------------------------------------------


def _callback(callback_id: int) -> tuple[Callback, Line]:
    """A callback of one of the account's lines, or 404."""
    row = callback_store.get(db.session(), callback_id)
    if row is None or not auth.may_see_line(me(), row.line):
        abort(404)
    return row, _line(row.line)


def _claimed_by_names(rows: Any) -> dict[str, str]:
    """Who holds each claim, readable: a console account's name, or a phone analyst's code."""
    names: dict[str, str] = {}
    accounts = {f"{callme.WEB}{u.id}": u.username for u in users.listing(db.session())}
    for row in rows:
        who = row.claimed_by
        if not who or who in names:
            continue
        if who in accounts:
            names[who] = accounts[who]
        elif who.isdigit():
            analyst = analysts.get(db.session(), int(who))
            names[who] = _("teléfono, analista %(code)s", code=analyst.code if analyst else who)
        else:
            names[who] = who
    return names


def _mine(row: Callback) -> bool:
    """Whether the logged-in account holds this callback's claim."""
    return row.status == "claimed" and row.claimed_by == callme.claimant(me())


def _may_close(row: Callback, user: ConsoleUser) -> bool:
    """Cancel: an open callback that is pending or one's own; supervisors any open one."""
    if row.status not in CALLBACK_OPEN:
        return False
    return row.status == "pending" or _mine(row) or auth.allows(user, "supervisor")


@bp.route("/callbacks")
@requires("analyst")
def callbacks_page() -> Any:
    """The callbacks of one's lines in the order they are taken: severity, then place."""
    at = now()
    sections = []
    for line in _visible_lines():
        if line.spec.callbacks is None:
            continue
        rows = callback_store.listing(db.session(), line=line.id)
        sections.append((line, rows, _claimed_by_names(rows)))
    return render_template("console/callbacks.html", sections=sections, now=at,
                           zone=status.zone, label=severity_label)


@bp.route("/callbacks/<line_id>/claim", methods=["POST"])
@requires("analyst")
def callback_claim(line_id: str) -> Any:
    """Take the line's next callback, atomically (the phones' claim): nobody else gets it."""
    line = _line(line_id)
    if not auth.may_see_line(me(), line.id) or line.spec.callbacks is None:
        abort(404)
    ident = callback_store.claim_next(db.connection(), line=line.id,
                                      analyst=callme.claimant(me()), now=now())
    if ident is None:
        flash(_("No hay devoluciones pendientes en %(line)s.", line=line.spec.name))
        return redirect(url_for("console.callbacks_page"))
    row = callback_store.get(db.session(), ident)
    assert row is not None
    _audit("callback.claim", f"callback:{row.id}", {"status": "pending"},
           {"status": row.status, "attempts": row.attempts, "severity": row.severity})
    flash(_("Devolución %(id)s tomada: es suya.", id=row.id))
    return redirect(url_for("console.callback_page", callback_id=row.id))


@bp.route("/callbacks/<int:callback_id>")
@requires("analyst")
def callback_page(callback_id: int) -> Any:
    """One callback: who, how grave, since when, due when; its calls and history; actions."""
    row, line = _callback(callback_id)
    history = [e for e in audit.listing(db.session(), limit=500)
               if e.target == f"callback:{row.id}"]
    return render_template(
        "console/callback.html", cb=row, line=line, now=now(), zone=status.zone(line),
        label=severity_label(line, row.severity), mine=_mine(row),
        may_tell=row.status == "claimed" and (_mine(row) or auth.allows(me(), "supervisor")),
        may_close=_may_close(row, me()), form=OutcomeForm(), history=history,
        names=_claimed_by_names([row]),
        console_calls=console_calls.of_callback(db.session(), row.id),
        max_attempts=line.spec.callbacks.max_attempts if line.spec.callbacks else 3)


@bp.route("/callbacks/<int:callback_id>/call", methods=["POST"])
@requires("analyst")
def callback_call(callback_id: int) -> Any:
    """"Call me, then the customer" for a callback one holds."""
    row, line = _callback(callback_id)
    try:
        call = callme.place_callback(me(), line, row)
    except (callme.CallMeError, twilio_api.NotConfigured) as e:
        flash(_("No se pudo llamar: %(why)s", why=str(e)))
    else:
        flash(_("Llamando a su teléfono (llamada %(id)s)…", id=call.id))
    return redirect(url_for("console.callback_page", callback_id=row.id))


@bp.route("/callbacks/<int:callback_id>/outcome", methods=["POST"])
@requires("analyst")
def callback_outcome(callback_id: int) -> Any:
    """How the callback went, by hand (reached closes it, others keep its place), or cancel.

    As on the phone: unreachable after the line's max_attempts.
    """
    row, line = _callback(callback_id)
    form = OutcomeForm()
    if not form.validate():
        abort(400)
    before = {"status": row.status, "attempts": row.attempts, "claimed_by": row.claimed_by}
    chosen = form.outcome.data
    if chosen == "cancel":
        if not _may_close(row, me()):
            abort(403)
        kept = callback_store.close(db.session(), row.id, "cancelled", now())
    else:
        if row.status != "claimed" or not (_mine(row) or auth.allows(me(), "supervisor")):
            abort(403)
        limit = line.spec.callbacks.max_attempts if line.spec.callbacks else 3
        kept = callback_store.record_outcome(db.session(), row.id, chosen, max_attempts=limit,
                                             now=now())
    _audit("callback.outcome", f"callback:{kept.id}", before,
           {"outcome": chosen, "status": kept.status, "attempts": kept.attempts,
            "note": form.note.data or None})
    flash(_("Devolución %(id)s: %(status)s.", id=kept.id, status=kept.status))
    return redirect(url_for("console.callbacks_page"))


@bp.route("/callbacks/<int:callback_id>/release", methods=["POST"])
@requires("analyst")
def callback_release(callback_id: int) -> Any:
    """Give back a callback one took and did not call: its place, the attempt uncounted."""
    row, _line_ = _callback(callback_id)
    if not callback_store.release(db.session(), row.id, claimed_by=callme.claimant(me()),
                                  now=now()):
        abort(403)
    _audit("callback.release", f"callback:{row.id}", {"status": "claimed"},
           {"status": "pending"})
    return redirect(url_for("console.callbacks_page"))


@bp.route("/queues")
@requires("analyst")
def queues_page() -> Any:
    """Who waits in one's lines' queues now, for how long, with which case."""
    at = now()
    rows = callback_store.waiting(db.session(), lines=[line.id for line in _visible_lines()],
                                  since=at - STALE_WAIT)
    return render_template("console/queues.html", rows=rows, now=at, lines=get_lines(),
                           zone=status.zone)
