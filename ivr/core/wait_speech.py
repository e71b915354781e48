"""The wait told: a queued caller's place and expected wait, from what Twilio sends the wait URL.

Twilio posts `QueuePosition` (1 is next), `QueueTime` (seconds this caller has waited) and
`AvgQueueTime` (seconds callers of this queue waited, on average, lately). Only what can be
trusted is said: no time at all when the average is unknown or this caller has already waited
longer than it (a figure that would be wrong), never "zero minutes".
"""

from __future__ import annotations

import math

from ivr.core.lines import Line
from ivr.core.prompts import Prompt

MAX_MINUTES_SAID = 60  # beyond an hour an estimate is a guess: say nothing about time


def wait_prompts(line: Line, position: int, average: int, waited: int) -> tuple[Prompt, ...]:
    """'You are the third person in line; the estimated wait is about four minutes'."""
    said: tuple[Prompt, ...] = ()
    if position >= 1:
        said += (place(line, position),)
    minutes = expected_minutes(average, waited)
    if minutes == 1:
        said += (line.prompt("espera_un_minuto"),)
    elif minutes is not None:
        said += (line.prompt("espera_minutos").format(minutes=str(minutes)),)
    return said


def place(line: Line, position: int) -> Prompt:
    """The caller's place: an ordinal word for the first places, else a number."""
    ordinals = [w.strip() for w in line.prompt("espera_ordinales").text.split(",") if w.strip()]
    if position <= len(ordinals):
        return line.prompt("espera_posicion").format(position=ordinals[position - 1])
    return line.prompt("espera_lugar").format(position=str(position))


def expected_minutes(average: int, waited: int) -> int | None:
    """Whole minutes still to wait (rounded up), or None when no honest figure exists."""
    if average <= 0:
        return None  # Twilio has no average yet (an empty or new queue)
    remaining = average - waited
    if remaining <= 0:
        return None  # waited longer than the average already: any figure would be a guess
    minutes = math.ceil(remaining / 60)
    return minutes if minutes <= MAX_MINUTES_SAID else None
