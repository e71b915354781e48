"""The menu file format: a typed model of one line's YAML, checked field by field.

Cross-references (links between nodes, prompts, schedules) are checked by `ivr.core.loader`,
which knows the whole file; this module checks each value in its place, and the rules that tie
the values of one part together (an override's `until` after its `from`, say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ivr.core import phone
from ivr.core.schedule import build_weekly, parse_days, parse_intervals
from ivr.core.wall_clock import WEEKDAYS

NodeId = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]
PromptId = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,60}$")]
DTMF_KEY = re.compile(r"^[0-9]$")


def _day_spec(text: str) -> str:
    """Check a day spec ('mon-fri', 'sat,sun'), so an error names the line of that key."""
    parse_days(text)
    return text


def _opening_hours(value: str | list[str]) -> str | list[str]:
    """Check opening hours ('08:30-12:00, 14:00-17:30'), so an error names their line."""
    parse_intervals(value)
    return value


def _option_key(key: str) -> str:
    """Require a menu option key to be one digit 0-9."""
    if not DTMF_KEY.match(key):
        raise ValueError(f"option key {key!r} is not a single digit 0-9")
    return key


def _line_number(value: str, info: ValidationInfo) -> str:
    """Parse one number the line answers on, for the line's country, into E.164."""
    return phone.to_e164(value, (info.context or {}).get("country", "ZZ"))


DaySpec = Annotated[str, AfterValidator(_day_spec)]
OpeningHours = Annotated[str | list[str], AfterValidator(_opening_hours)]
OptionKey = Annotated[str, AfterValidator(_option_key)]
LineNumber = Annotated[str, AfterValidator(_line_number)]


def _local_time(value: object) -> datetime:
    """A local date and time ('2026-12-24 18:00'), without a zone: the line's zone applies."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r} has a time zone; write local time, the line's zone applies")
    return moment


# Parsed before pydantic sees it, so that the model holds a datetime (typed as one) while the
# file says '2026-12-24 18:00' as a string (YAML reads a time without seconds as text).
LocalTime = Annotated[datetime, BeforeValidator(_local_time),
                      WithJsonSchema({"type": "string", "examples": ["2026-12-24 18:00"]})]


class Model(BaseModel):
    """Base of every part of a menu file: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleSpec(Model):
    """Business hours: weekly intervals, holidays, closed dates and special dates."""

    weekly: dict[DaySpec, OpeningHours]
    holidays: list[str] | None = None
    subdivision: str | None = None
    timezone: str | None = None
    closed_dates: list[date] = []
    special: dict[date, OpeningHours] = {}

    @field_validator("weekly")
    @classmethod
    def _weekly_parses(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        """Check that no day is given twice (day names and hours are checked one by one)."""
        build_weekly(value)
        return value


class Target(Model):
    """Who a dial node rings: a phone number (with an optional extension) or a SIP URI."""

    number: str | None = None
    extension: str | None = Field(default=None, pattern=r"^[0-9*#]{1,10}$")
    sip: str | None = Field(default=None, pattern=r"^sips?:[^\s<>\"]+@[^\s<>\"]+$")
    label: str | None = None

    @field_validator("number")
    @classmethod
    def _number_is_e164(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Parse the number for the line's country and keep it in E.164."""
        if value is None:
            return None
        region = (info.context or {}).get("country", "ZZ")
        return phone.to_e164(value, region)

    @model_validator(mode="after")
    def _one_destination(self) -> Target:
        """Require exactly one of number or sip; an extension goes with a number."""
        if (self.number is None) == (self.sip is None):
            raise ValueError("give exactly one of 'number' or 'sip'")
        if self.extension and self.number is None:
            raise ValueError("'extension' needs a 'number' to dial first")
        return self


@dataclass(frozen=True)
class Link:
    """A way from one node to another: where it is written, and whether it needs a key press."""

    path: tuple[str, ...]
    target: str
    automatic: bool


class NodeBase(Model):
    """What every node has: a label, and optional business hours with an after-hours branch."""

    label: str | None = None
    hours: str | None = None
    after_hours: NodeId | None = None
    closed_prompt: PromptId | None = None

    def links(self) -> list[Link]:
        """Every node this one leads to, with the key that names it in the file."""
        return [Link(("after_hours",), self.after_hours, True)] if self.after_hours else []


class MenuNode(NodeBase):
    """A prompt played inside a <Gather>, and where each key leads."""

    type: Literal["menu"]
    prompt: PromptId
    options: dict[OptionKey, NodeId]
    fallback: NodeId | None = None
    max_failures: int | None = Field(default=None, ge=1, le=9)

    @field_validator("options", mode="before")
    @classmethod
    def _keys_are_digits(cls, value: Any) -> Any:
        """Accept unquoted YAML keys (2: ...); OptionKey then requires one digit 0-9."""
        if not isinstance(value, dict):
            return value
        if not value:
            raise ValueError("a menu needs at least one option")
        return {str(k): v for k, v in value.items()}

    def links(self) -> list[Link]:
        """After hours, the fallback (taken by itself after failures), then each option."""
        out = super().links()
        if self.fallback:
            out.append(Link(("fallback",), self.fallback, True))
        out += [Link(("options", key), target, False) for key, target in self.options.items()]
        return out


class Step(Model):
    """One step of an escalation chain: some targets at once, or who is on call, for a while."""

    targets: list[Target] | None = Field(default=None, min_length=1, max_length=10)
    on_call: NodeId | None = None
    next: int = Field(default=0, ge=0, le=9)
    timeout: int | None = Field(default=None, ge=5, le=120)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        """Require exactly one of targets or on_call."""
        if (self.targets is None) == (self.on_call is None):
            raise ValueError("give exactly one of 'targets' or 'on_call'")
        if self.targets is not None and self.next:
            raise ValueError("'next' picks a contact of an on_call rotation; remove it here")
        return self


class DialNode(NodeBase):
    """Connect the caller to people, step by step: numbers, extensions, SIP, who is on call.

    `targets` with `ring` is the short form: in turn, each target is a step of its own; at
    once, all of them are one step. `steps` is the long form (an escalation chain).
    """

    type: Literal["dial"]
    prompt: PromptId | None = None
    targets: list[Target] | None = Field(default=None, min_length=1, max_length=10)
    ring: Literal["in_turn", "at_once"] = "in_turn"
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=20)
    timeout: int = Field(default=20, ge=5, le=120)
    screen: PromptId | None = None
    screen_seconds: int = Field(default=10, ge=5, le=60)
    caller_id: Literal["caller", "line"] = "caller"
    on_no_answer: NodeId | None = None

    @model_validator(mode="after")
    def _targets_or_steps(self) -> DialNode:
        """Require exactly one of targets or steps."""
        if (self.targets is None) == (self.steps is None):
            raise ValueError("give exactly one of 'targets' or 'steps'")
        return self

    def chain(self) -> list[Step]:
        """The steps, the short form expanded."""
        if self.steps is not None:
            return self.steps
        targets = self.targets or []
        if self.ring == "at_once":
            return [Step(targets=targets)]
        return [Step(targets=[target]) for target in targets]

    def links(self) -> list[Link]:
        """After hours, and where the call goes when nobody answers."""
        return super().links() + _optional_link("on_no_answer", self.on_no_answer)


class QueueCallback(Model):
    """A caller waiting in this queue may leave it and be called back instead."""

    key: OptionKey = "1"  # pressed at any moment of the wait (the wait message says so)
    offer_after: int = Field(default=120, ge=0, le=3600)  # from then on, the offer is said


class QueueNode(NodeBase):
    """Put the caller in a named Twilio queue, with a wait message and hold music."""

    type: Literal["queue"]
    queue: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    prompt: PromptId | None = None
    wait_prompt: PromptId | None = None
    hold_music: str | None = Field(default=None, pattern=r"^(https?://|/)\S+$")
    max_wait: int = Field(default=600, ge=30, le=3600)
    on_no_answer: NodeId | None = None
    callback: QueueCallback | None = None

    def links(self) -> list[Link]:
        """After hours, and where the call goes when nobody takes it from the queue."""
        return super().links() + _optional_link("on_no_answer", self.on_no_answer)


class AnnouncementNode(NodeBase):
    """Say something (optionally the hours of a schedule), then go on or hang up."""

    type: Literal["announcement"]
    prompt: PromptId
    say_hours: str | None = None
    next: NodeId | None = None

    def links(self) -> list[Link]:
        """After hours, and the node that follows the announcement."""
        return super().links() + _optional_link("next", self.next)


class HangupNode(NodeBase):
    """Say goodbye (optionally) and end the call."""

    type: Literal["hangup"]
    prompt: PromptId | None = None


class NewCaseNode(NodeBase):
    """Issue a case number, read it back (a key repeats it), optionally record a description."""

    type: Literal["new_case"]
    prompt: PromptId | None = None
    repeat_key: OptionKey = "1"
    record: bool = False
    record_prompt: PromptId = "caso_grabe_descripcion"
    # Twilio transcribes recordings of up to two minutes
    max_record_seconds: int = Field(default=120, ge=10, le=120)
    next: NodeId
    team: NodeId | None = None

    def links(self) -> list[Link]:
        """After hours, the next step, and the team the case belongs to."""
        out = super().links() + [Link(("next",), self.next, True)]
        return out + ([Link(("team",), self.team, False)] if self.team else [])


class VoicemailNode(NodeBase):
    """Nobody could take the call: take a message (recorded, transcribed, kept for admins)."""

    type: Literal["voicemail"]
    prompt: PromptId
    max_seconds: int = Field(default=120, ge=10, le=120)
    next: NodeId | None = None
    callback: bool = False  # the message becomes a callback, its severity asked first

    def links(self) -> list[Link]:
        """After hours, and the node after the message (none: goodbye)."""
        return super().links() + _optional_link("next", self.next)


class CaseLookupNode(NodeBase):
    """Ask for a case number (typed, then #), read its status, and route it to its team."""

    type: Literal["case_lookup"]
    prompt: PromptId
    fallback: NodeId
    max_failures: int | None = Field(default=None, ge=1, le=9)

    def links(self) -> list[Link]:
        """After hours, and the fallback after too many wrong numbers."""
        return super().links() + [Link(("fallback",), self.fallback, True)]


def _optional_link(key: str, target: str | None) -> list[Link]:
    """A one-item list with an automatic link, or nothing."""
    return [Link((key,), target, True)] if target else []


Node = Annotated[
    MenuNode | DialNode | QueueNode | AnnouncementNode | HangupNode | NewCaseNode
    | CaseLookupNode | VoicemailNode,
    Field(discriminator="type"),
]


class ContactSpec(Model):
    """Someone who can be on call, named by role."""

    role: str = Field(min_length=1, max_length=60)
    number: LineNumber


class HandoffSpec(Model):
    """When the turn passes to the next contact: every day, or every week on a weekday."""

    every: Literal["day", "week"]
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    @model_validator(mode="after")
    def _weekday_for_weeks(self) -> HandoffSpec:
        """A weekly hand-off names its weekday; a daily one does not."""
        if (self.every == "week") != (self.weekday is not None):
            raise ValueError("a weekly hand-off needs 'weekday'; a daily one takes none")
        return self


class OverrideSpec(Model):
    """Someone else is on call between two local times."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: LocalTime = Field(alias="from")
    until: LocalTime
    contact: str

    @field_validator("until")
    @classmethod
    def _until_after_from(cls, value: datetime, info: ValidationInfo) -> datetime:
        """Require `until` later than `from`, as instants in the line's zone."""
        start = info.data.get("start")
        if isinstance(start, datetime) and not _instant(start, info) < _instant(value, info):
            raise ValueError(f"until {value:%Y-%m-%d %H:%M} is not after from "
                             f"{start:%Y-%m-%d %H:%M}; an override covers [from, until)")
        return value


def _instant(local: datetime, info: ValidationInfo) -> datetime:
    """A local time as an instant in the line's zone (as written when the zone is unknown)."""
    try:
        zone = ZoneInfo(str((info.context or {}).get("timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        return local
    return local.replace(tzinfo=zone).astimezone(UTC)


class RotationSpec(Model):
    """Who is on call: contacts in turn (or a fixed order), with dated overrides."""

    contacts: list[ContactSpec] = Field(min_length=1, max_length=20)
    handoff: HandoffSpec | None = None
    start: date | None = Field(default=None, validate_default=True)
    overrides: list[OverrideSpec] = []

    @field_validator("start")
    @classmethod
    def _start_is_a_handoff(cls, value: date | None, info: ValidationInfo) -> date | None:
        """Require `start` with a hand-off (and only then), on the weekday of a weekly one."""
        if "handoff" not in info.data:
            return value  # the hand-off itself is wrong: that is the error
        handoff: HandoffSpec | None = info.data["handoff"]
        if handoff is None and value is not None:
            raise ValueError("'start' is the date of a hand-off, but there is no 'handoff': "
                             "remove 'start' for a fixed order, or add a 'handoff'")
        if handoff is not None and value is None:
            raise ValueError("'handoff' needs 'start': the date of a hand-off on which the "
                             "first contact took over")
        if handoff is not None and value is not None and handoff.weekday is not None:
            weekday = WEEKDAYS[value.weekday()]
            if weekday != handoff.weekday:
                raise ValueError(f"start {value} is a {weekday}, but the weekly hand-off is on "
                                 f"{handoff.weekday}; move start to a hand-off day")
        return value


class FallbackUrlSpec(Model):
    """Where the fallback webhook sends a caller whose webhook failed: people, in hours or not.

    In hours means the `in_hours` node's own hours (a node without hours always is).
    """

    in_hours: NodeId
    after_hours: NodeId


class SeveritySpec(Model):
    """One severity level of a callback: how it is said, and within how long it is returned."""

    label: str = Field(min_length=3, max_length=120)
    within_hours: float = Field(gt=0, le=200)  # counted in the callbacks' business hours


class CallbacksSpec(Model):
    """Callbacks of this line: the severity levels (the key is the level, 1 the gravest)."""

    severities: dict[OptionKey, SeveritySpec] = Field(min_length=1, max_length=9)
    hours: NodeId | None = None  # the schedule due times are counted in (none: any hour)
    max_attempts: int = Field(default=3, ge=1, le=10)

    @field_validator("severities", mode="before")
    @classmethod
    def _keys_are_digits(cls, value: Any) -> Any:
        """Accept unquoted YAML keys (1: ...)."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class AnalystsSpec(Model):
    """The analysts' own number: keypad login, then callers and callbacks to take."""

    numbers: list[LineNumber] = []  # Twilio numbers whose voice URL is /voice/LINE/analyst
    max_pin_failures: int = Field(default=3, ge=1, le=10)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)


class LineFile(Model):
    """One customer-service line: its numbers, voice, schedules and menu tree."""

    id: NodeId
    name: str
    numbers: list[LineNumber] = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    timezone: str
    language: str = Field(default="es", pattern=r"^[a-z]{2}$")
    voice: str = "Polly.Mia"
    say_language: str = "es-MX"
    welcome: PromptId | None = None
    start: NodeId
    fallback: NodeId | None = None
    fallback_url: FallbackUrlSpec | None = None
    max_failures: int = Field(default=3, ge=1, le=9)
    case_digits: int = Field(default=8, ge=7, le=9)
    prompts: dict[PromptId, PromptId] = {}
    on_call: dict[NodeId, RotationSpec] = {}
    escalation: dict[Annotated[int, Field(ge=2, le=9)], NodeId] = {}
    back_key: Literal["0", "#", "*", "9", "none"] = "#"
    hold_music: str | None = Field(default=None, pattern=r"^(https?://|/)\S+$")
    schedules: dict[NodeId, ScheduleSpec] = {}
    callbacks: CallbacksSpec | None = None
    analysts: AnalystsSpec | None = None
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @field_validator("back_key", mode="before")
    @classmethod
    def _back_key_written(cls, value: Any) -> Any:
        """An empty back_key is almost always `back_key: #`, which YAML reads as a comment."""
        if value is None:
            raise ValueError("back_key is empty: write it in quotes, back_key: \"#\" (an "
                             "unquoted # starts a comment); to have no back key, write none")
        return value

    @field_validator("back_key")
    @classmethod
    def _back_key_not_repeat(cls, value: str) -> str:
        """Keep '*' for 'repeat the menu'."""
        if value == "*":
            raise ValueError("'*' repeats the menu; choose '#', '0' or '9' to go back")
        return value
