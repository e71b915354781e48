"""New cases of one worker's concurrent calls, committed together: a group commit.

Each new case must be stored before its caller hears the number, so each costs a commit (on
PostgreSQL a wait for the disk, on SQLite the file's one write lock, which every thread of
both workers takes in turn). Calls that ask for a case while another's is being written wait
for it, then go in one transaction together: the first of them writes the batch (the
leader, on its own request's connection) and hands the turn to the next call waiting; the
others hold no connection while they wait. A call alone is written as before, on its own
(`cases.issue_number`: one statement on PostgreSQL), so a quiet line waits for nothing.

What is promised does not change: a number is returned only once its case and first note are
committed. A case the batch could not place (a number or call clash), and every case of a
batch that failed, is then written by its own call alone, so that one call's error is that
call's only. A call that waits past `wait_seconds` for its turn (a database that hangs: the
leader is stuck in its driver's timeouts) gives up with a timeout, as a wait for the pool
does: its caller hears that no number can be given now.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ivr.store import cases

log = logging.getLogger("ivr.cases")
MAX_BATCH = 32  # a gunicorn worker's threads (gunicorn.conf.py)
WAIT_SECONDS = 8.0  # a turn waited for: the pool's 3 s and a statement's 5 s


@dataclass(eq=False)
class _Waiting:
    """One call's case, waiting for its turn."""

    case: cases.NewCase
    turn: threading.Event
    lead: bool = False  # handed the turn to write the next batch
    taken: bool = False  # in a batch being written
    done: bool = False  # its batch was written (or failed)
    number: str | None = None  # what the batch stored for it (None: it goes alone)


class GroupCommit:
    """One worker's queue of new cases: concurrent calls' cases go in one transaction."""

    def __init__(self, max_batch: int = MAX_BATCH, wait_seconds: float = WAIT_SECONDS) -> None:
        """An empty queue; batches of `max_batch` cases at most."""
        self.max_batch, self.wait_seconds = max_batch, wait_seconds
        self.changed = threading.Condition()  # guards the queue; notified when it grows
        self.queue: deque[_Waiting] = deque()
        self.writing = False  # a leader is writing a batch (the others wait their turn)

    def issue(self, connect: Callable[[], Connection], case: cases.NewCase) -> str:
        """The case number of this call, stored: alone if no other is being written."""
        waiting = _Waiting(case, threading.Event())
        with self.changed:
            self.queue.append(waiting)
            waiting.lead = not self.writing
            self.writing = True
            self.changed.notify_all()
        if not waiting.lead:
            try:
                waiting.turn.wait(self.wait_seconds)
            except BaseException:  # the thread is stopped while it waits: it leaves the queue
                self._leave(waiting)
                raise
            with self.changed:
                if not (waiting.done or waiting.lead):
                    if not waiting.taken:
                        self.queue.remove(waiting)
                    raise PoolTimeout(f"no turn to write a new case in {self.wait_seconds} s")
        if not waiting.done:
            self._lead(connect, waiting)
        if waiting.number is not None:
            return waiting.number
        return cases.issue_number(
            connect(), call_sid=case.call_sid, line=case.line, team=case.team,
            caller=case.caller, node=case.node, now=case.now, digits=case.digits)

    def _lead(self, connect: Callable[[], Connection], own: _Waiting) -> None:
        """Write the batch that holds `own` and the cases queued behind it; pass the turn on.

        The connection is taken first, so that the calls that come while it is taken (the
        pool may be busy) go in the same batch; the calls that come while it is written wait
        for the next. A batch of one is `issue_number`'s (its error is its caller's); a
        batch that fails leaves each of its cases to be written alone, by its own call.
        """
        batch: list[_Waiting] = [own]
        try:
            connection = connect()
            with self.changed:
                batch = [w for w in self.queue if not w.taken][:self.max_batch]
                for member in batch:
                    member.taken = True
            if len(batch) == 1:
                own.number = cases.issue_number(
                    connection, call_sid=own.case.call_sid, line=own.case.line,
                    team=own.case.team, caller=own.case.caller, node=own.case.node,
                    now=own.case.now, digits=own.case.digits)
                return
            try:
                numbers = cases.issue_batch(connection, [w.case for w in batch])
            except Exception as e:  # noqa: BLE001 - each case of the batch is then written alone
                log.warning("a batch of %d new cases failed (%s): each is written alone",
                            len(batch), type(e).__name__)
                numbers = [None] * len(batch)
            for member, number in zip(batch, numbers, strict=True):
                member.number = number
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

    def _pass_turn(self) -> _Waiting | None:
        """Under the lock: hand the turn to the first call waiting (None: nobody waits)."""
        following = self.queue[0] if self.queue else None
        if following is not None:
            following.lead = True
        self.writing = following is not None
        return following

    def _leave(self, waiting: _Waiting) -> None:
        """A call that stops waiting leaves the queue; a turn it was handed goes on."""
        following = None
        with self.changed:
            if not waiting.taken and waiting in self.queue:
                self.queue.remove(waiting)
            if waiting.lead and not waiting.done:
                following = self._pass_turn()
        if following is not None:
            following.turn.set()
