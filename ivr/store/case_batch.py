"""Calls of one worker that want the same statement at the same moment, sent as one.

New cases, committed together (a group commit): each new case must be stored before its
caller hears the number, so each cost a commit of its own (on PostgreSQL a wait for the disk,
on SQLite the file's one write lock, which every thread of both workers takes in turn). Case
look-ups on PostgreSQL, read together: each was a round trip of its own, and PostgreSQL's
work per statement (its parse of the message, its snapshot, its reply) was most of its CPU
per look-up.

How: calls that come while another's statement is being sent wait for it, then go in one
together: the first of them sends the batch (the leader, on its own request's connection)
and hands the turn to the next call waiting; the others hold no connection while they wait.
A call alone is sent as before, on its own, so a quiet line waits for nothing; a batch never
holds a call that came after it was sent (a look-up reads what was there when it was asked).

What is promised does not change: a case number is returned only once its case and first
note are committed. A call the batch could not answer (a number or call clash) is sent by its
own call alone; so is each call of a batch that failed for one call's sake (`each_alone`: a
value refused, a lost connection, a deadlock), so that one call's error is that call's only.
A batch that failed because the database did not answer (a timeout, a database busy) gives
each of its calls that error at once: none is sent again to wait once more. A call that
waits past `wait_seconds` to be taken into a batch (the batch before it is stuck in the
driver's timeouts) leaves the queue, nothing of it sent, and fails as a wait for the pool
does: its caller hears that the case store cannot answer now. A call once taken waits for
its batch, which ends within the driver's timeouts.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.engine import Connection
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ivr.store import cases

log = logging.getLogger("ivr.cases")
MAX_BATCH = 32  # a gunicorn worker's threads (gunicorn.conf.py)
# The most a call waits to be taken into a batch (the batch before it stuck), as long as a
# wait for the pool: with its own batch's bound (the pool's 3 s, a new connection's 3 s, a
# statement's 5 s) it stays under gunicorn's and Twilio's 15 s.
WAIT_SECONDS = 3.0
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(eq=False)
class _Waiting(Generic[In, Out]):
    """One call's request, waiting for its turn."""

    item: In
    turn: threading.Event
    lead: bool = False  # handed the turn to send the next batch
    taken: bool = False  # in a batch being sent
    done: bool = False  # its batch was sent (or failed)
    answered: bool = False  # the batch answered it (else it goes alone, or fails with error)
    result: Out | None = None  # the batch's answer
    error: BaseException | None = None  # why the batch failed, when no call is to try alone
    sent_for: bool = False  # another call sent the batch that held it


class Together(Generic[In, Out]):
    """One worker's queue of calls that want one kind of statement: sent together."""

    what = "requests"  # what a batch holds, for the log

    def __init__(self, alone: Callable[[Connection, In], Out],
                 batch: Callable[[Connection, Sequence[In]], Mapping[int, Out]],
                 max_batch: int = MAX_BATCH, wait_seconds: float = WAIT_SECONDS,
                 sent: Callable[[], None] = lambda: None) -> None:
        """An empty queue: `alone` answers one call, `batch` several, `max_batch` at most.

        `batch` answers by the calls' places in it; a place it leaves out goes alone. `sent`
        is called in each call's own thread whose batch another call sent (the statement
        counts as its step's: `ivr.db.attempt` retries a step only on its first)."""
        self.alone, self.batch, self.sent = alone, batch, sent
        self.max_batch, self.wait_seconds = max_batch, wait_seconds
        self.changed = threading.Condition()  # guards the queue; notified when it grows
        self.queue: deque[_Waiting[In, Out]] = deque()
        self.writing = False  # a leader is sending a batch (the others wait their turn)

    def run(self, connect: Callable[[], Connection], item: In) -> Out:
        """The answer to this call's request: alone if no other is being sent."""
        waiting: _Waiting[In, Out] = _Waiting(item, threading.Event())
        with self.changed:
            self.queue.append(waiting)
            waiting.lead = not self.writing
            self.writing = True
            self.changed.notify_all()
        if not waiting.lead:
            self._wait(waiting)
        if not waiting.done:
            self._lead(connect, waiting)
        elif waiting.sent_for:
            self.sent()
        if waiting.error is not None:
            raise _own_copy(waiting.error)
        if waiting.answered:
            return cast(Out, waiting.result)
        return self.alone(connect(), item)

    def _wait(self, waiting: _Waiting[In, Out]) -> None:
        """Wait for the call's turn to lead, or for the batch that took it to be sent.

        Only the wait to be taken is bounded (`wait_seconds`: the batch before is stuck):
        then the call leaves the queue, nothing of it sent, and fails as a wait for the pool
        does. Once taken, the call waits for its batch, which ends within the driver's own
        timeouts: a caller is never told there is no number while its case is being written.
        """
        try:
            if not waiting.turn.wait(self.wait_seconds):
                with self.changed:
                    if not (waiting.done or waiting.lead or waiting.taken):
                        self.queue.remove(waiting)
                        raise PoolTimeout(
                            f"no turn for the case store in {self.wait_seconds} s")
                waiting.turn.wait()
        except BaseException:  # the thread is stopped while it waits: it leaves the queue
            self._leave(waiting)
            raise

    def _lead(self, connect: Callable[[], Connection], own: _Waiting[In, Out]) -> None:
        """Send the batch that holds `own` and the calls queued behind it; pass the turn on.

        The connection is taken first, so that the calls that come while it is taken (the
        pool may be busy) go in the same batch; the calls that come while it is sent wait
        for the next. A batch of one is sent `alone` (its error is its caller's). A batch
        that fails for one call's sake (`each_alone`) leaves each of its calls to be sent
        alone, by its own call; a batch that fails because the database does not answer
        gives every call of it that error at once (none is sent again to a database that
        hangs: each caller hears at once that there is no number now).
        """
        batch: list[_Waiting[In, Out]] = [own]
        try:
            connection = connect()
            with self.changed:
                batch = [w for w in self.queue if not w.taken][:self.max_batch]
                for member in batch:
                    member.taken = True
            if len(batch) == 1:
                own.result, own.answered = self.alone(connection, own.item), True
                return
            for member in batch[1:]:
                member.sent_for = True
            try:
                answers = self.batch(connection, [w.item for w in batch])
            except Exception as e:  # noqa: BLE001 - each call then goes alone, or fails with it
                if not each_alone(e):
                    for member in batch:
                        member.error = e
                    raise
                log.warning("a batch of %d %s failed (%s): each is sent alone", len(batch),
                            self.what, type(e).__name__)
                answers = {}
            for place, member in enumerate(batch):
                if place in answers:
                    member.result, member.answered = answers[place], True
        finally:
            with self.changed:
                for member in batch:
                    member.done = True
                    if member in self.queue:
                        self.queue.remove(member)
                following = self._pass_turn()
            for member in batch:
                member.turn.set()
            if following is not None:
                following.turn.set()

    def _pass_turn(self) -> _Waiting[In, Out] | None:
        """Under the lock: hand the turn to the first call waiting (None: nobody waits)."""
        following = self.queue[0] if self.queue else None
        if following is not None:
            following.lead = True
        self.writing = following is not None
        return following

    def _leave(self, waiting: _Waiting[In, Out]) -> None:
        """A call that stops waiting leaves the queue; a turn it was handed goes on."""
        following = None
        with self.changed:
            if not waiting.taken and waiting in self.queue:
                self.queue.remove(waiting)
            if waiting.lead and not waiting.done:
                following = self._pass_turn()
        if following is not None:
            following.turn.set()


def _own_copy(error: BaseException) -> BaseException:
    """The batch's error for one more call to raise: a copy, with that call's traceback.

    One exception object raised in several threads would carry each one's frames."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001 - an error that cannot be copied is raised as it is
        return error


def each_alone(error: Exception) -> bool:
    """Whether a batch that failed with `error` is for each of its calls to send alone.

    Yes for what is one call's: a value refused (a constraint, a value its column or type
    refuses), a connection lost under the batch (the single path would run the step again on
    a new connection; a call whose case was stored after all gets it back by its CallSid), a
    deadlock or serialization failure (PostgreSQL's class 40: the other transaction has gone
    on), and any error not the database's (a fault of the batch's own code). No for a
    database that does not answer (a statement or lock timeout, a database busy, read-only
    or full, a wait for the pool): sent again, each call would wait for it once more.
    """
    if not isinstance(error, SQLAlchemyError):
        return True
    if isinstance(error, IntegrityError | DataError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        return str(getattr(error.orig, "sqlstate", None) or "").startswith("40")
    return isinstance(error, StatementError)  # a value refused before it was sent


class GroupCommit(Together[cases.NewCase, str]):
    """New cases that come together, committed in one transaction (`cases.issue_batch`)."""

    what = "new cases"

    def __init__(self, max_batch: int = MAX_BATCH, wait_seconds: float = WAIT_SECONDS,
                 sent: Callable[[], None] = lambda: None) -> None:
        """An empty queue of new cases (`sent`: as `Together`'s)."""
        super().__init__(_issue_alone, _issue_together, max_batch, wait_seconds, sent)

    def issue(self, connect: Callable[[], Connection], case: cases.NewCase) -> str:
        """The case number of this call, stored: alone if no other is being written."""
        return self.run(connect, case)


def _issue_alone(connection: Connection, case: cases.NewCase) -> str:
    """One call's case (`cases.issue_number`)."""
    return cases.issue_number(connection, call_sid=case.call_sid, line=case.line,
                              team=case.team, caller=case.caller, node=case.node,
                              now=case.now, digits=case.digits)


def _issue_together(connection: Connection, wanted: Sequence[cases.NewCase]) -> dict[int, str]:
    """Several calls' cases (`cases.issue_batch`): the number of each it placed."""
    numbers = cases.issue_batch(connection, wanted)
    return {place: number for place, number in enumerate(numbers) if number is not None}


class LookUps(Together[str, Any]):
    """Case look-ups that come together, read in one statement (PostgreSQL).

    One queue per line whose callbacks are read with the case; one for the lines without."""

    what = "case look-ups"

    def __init__(self, callbacks_of: str | None, max_batch: int = MAX_BATCH,
                 wait_seconds: float = WAIT_SECONDS,
                 sent: Callable[[], None] = lambda: None) -> None:
        """An empty queue of look-ups, each case with its pending callback on `callbacks_of`.

        (A line, or None: no callbacks read; as `cases.summary` reads them.)"""
        def alone(connection: Connection, number: str) -> Any:
            """One look-up."""
            return cases.summary(connection, number, callbacks_of=callbacks_of)

        def together(connection: Connection, numbers: Sequence[str]) -> dict[int, Any]:
            """Several look-ups in one read."""
            return dict(enumerate(cases.summaries(connection, numbers,
                                                  callbacks_of=callbacks_of)))

        super().__init__(alone, together, max_batch, wait_seconds, sent)
