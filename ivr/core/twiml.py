"""Render a navigator `Plan` as a TwiML document (twilio's `VoiceResponse`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from twilio.twiml.voice_response import Dial as DialVerb
from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.core.lines import Line
from ivr.core.menu_file import (
    CaseLookupNode,
    DialNode,
    NewCaseNode,
    QueueNode,
    Target,
    VoicemailNode,
)
from ivr.core.navigator import (
    Ask,
    AskCase,
    BridgeQueue,
    CallCustomer,
    CallerGone,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Hold,
    JoinRoom,
    Leave,
    Plan,
    ReadCase,
    RecordCase,
    TakeMessage,
)
from ivr.core.prompts import Prompt

EXTENSION_WAIT = "wwww"  # two seconds after the answer before the extension's digits
CASE_REPEAT_SECONDS = 4  # after the number is read: time to press the repeat key
SCREEN_PAUSE_SECONDS = 2  # between two whispers to the person called
SCREEN_ROUND_SECONDS = 8  # a whisper and its pause, roughly
SCREEN_LAST_SECONDS = 3  # after the last whisper, before the call counts as declined
CASE_DIGIT_SECONDS = 6  # between the digits of a case number read off a paper or a screen


class Hook(StrEnum):
    """The webhooks a document sends Twilio to, by endpoint name: the one list of them.

    The web layer serves each under this endpoint (`blueprint.view`) and builds its URL.
    """

    MENU = "voice.menu"  # a menu's <Gather> action (and its no-key redirect)
    DIAL = "voice.dial"  # the <Dial> action, told how the dial ended
    SCREEN = "voice.screen"  # what the person called hears before being connected
    SCREEN_ANSWER = "voice.screen_answer"  # the key the person called pressed (or none)
    MESSAGE = "voice.message"  # the <Record> action of a voice message
    MESSAGE_TRANSCRIBED = "voice.message_transcribed"  # a voice message's transcription
    QUEUE = "voice.queue"  # the <Enqueue> action, told how the wait ended
    WAIT = "voice.wait"  # the <Enqueue> waitUrl, asked what to play while the caller waits
    WAIT_KEY = "voice.wait_key"  # a key pressed while waiting (the callback offer)
    CALLBACK = "callback_calls.step"  # a caller's answer to a callback question
    CALLBACK_PENDING = "callback_calls.pending"  # a repeat caller: keep, graver or cancel
    ANALYST_CALL = "analyst_calls.incoming"  # the analysts' number answers
    ANALYST = "analyst_calls.step"  # the analysts' number: login, menu, outcomes
    ANALYST_JOIN = "analyst_calls.join"  # a caller dequeued for an analyst (REST member url)
    AUDIO = "audio.prompt"  # a recorded prompt
    CASE_READ = "case_calls.read"  # after a case number was read back
    CASE_RECORDED = "case_calls.recorded"  # the <Record> action of a case's description
    CASE_TRANSCRIBED = "case_calls.transcribed"  # a case description's transcription
    CASE_ENTRY = "case_calls.entry"  # the <Gather> action of a case look-up
    FALLBACK = "voice.fallback"  # the number's "Primary handler fails" URL (set at Twilio)
    CONSOLE_BRIDGE = "console_hooks.bridge"  # the analyst the console called answered
    CONSOLE_DIALED = "console_hooks.dialed"  # the <Dial> action of the customer's leg
    CONSOLE_STATUS = "console_hooks.status"  # the status callback of the console's call
    CONSOLE_TOLD = "console_hooks.told"  # a callback's customer answered: person or voicemail


class Urls(Protocol):
    """Builds the URL of a webhook from its `Hook` and the values its route takes."""

    def __call__(self, hook: Hook, /, **values: str | int | None) -> str:
        """The URL Twilio is sent to."""


def render(line: Line, plan: Plan, urls: Urls, stop_transcription: str | None = None) -> str:
    """Return the TwiML document for `plan` on `line` (first stopping a transcription)."""
    response = VoiceResponse()
    if stop_transcription:
        response.stop().transcription(name=stop_transcription)
    action = plan.action
    if isinstance(action, Gather):
        _gather(response, line, plan.prompts, action, urls)
    elif isinstance(action, ReadCase):
        _read_case(response, line, plan.prompts, action, urls)
    elif isinstance(action, AskCase):
        _ask_case(response, line, plan.prompts, action, urls)
    elif isinstance(action, Ask):
        _ask(response, line, plan.prompts, action, urls)
    elif isinstance(action, Hold):
        _hold(response, line, plan.prompts, action, urls)
    else:
        for prompt in plan.prompts:
            _say(response, line, prompt, urls)
        if isinstance(action, Dial):
            _dial(response, line, action, urls)
        elif isinstance(action, Enqueue):
            response.enqueue(
                _queue_node(line, action.node).queue,
                action=urls(Hook.QUEUE, line_id=line.id, node_id=action.node),
                method="POST",
                wait_url=urls(Hook.WAIT, line_id=line.id, node_id=action.node),
                wait_url_method="POST",
            )
        elif isinstance(action, Leave):
            response.leave()
        elif isinstance(action, BridgeQueue):
            dial = response.dial(action=urls(Hook(action.hook), line_id=line.id,
                                             **dict(action.values)), method="POST")
            dial.queue(_queue_node(line, action.node).queue)
        elif isinstance(action, JoinRoom):
            _join_room(response, line, action, urls)
        elif isinstance(action, CallCustomer):
            dial = response.dial(action=urls(Hook(action.hook), line_id=line.id,
                                             **dict(action.values)), method="POST",
                                 caller_id=line.spec.numbers[0], timeout=30)
            dial.number(action.number)
        elif isinstance(action, RecordCase):
            _record_case(response, line, action, urls)
        elif isinstance(action, TakeMessage):
            _take_message(response, line, action, urls)
        elif isinstance(action, Hangup | CallerGone):
            response.hangup()
    return str(response)


def _join_room(response: VoiceResponse, line: Line, action: JoinRoom, urls: Urls) -> None:
    """`<Dial><Conference>` into a room of two that ends when either one leaves.

    The analyst's side (with a hook) may also leave by pressing * (a room the caller has left).
    """
    if action.hook is None:
        dial = response.dial()
    else:
        dial = response.dial(action=urls(Hook(action.hook), line_id=line.id,
                                         **dict(action.values)), method="POST",
                             hangup_on_star=True)
    dial.conference(action.room, beep=False, end_conference_on_exit=True, max_participants=2)


def render_message(text: str, voice: str, language: str) -> str:
    """A document that says `text` and hangs up (for calls no line can take)."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language)
    response.hangup()
    return str(response)


def _say(parent: VoiceResponse | GatherVerb, line: Line, prompt: Prompt, urls: Urls) -> None:
    """Play the prompt's recording where there is one, else say its text."""
    if prompt.audio:
        parent.play(urls(Hook.AUDIO, language=line.spec.language, filename=prompt.audio))
    else:
        parent.say(prompt.text, voice=line.spec.voice, language=line.spec.say_language)


def _gather(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: Gather, urls: Urls
) -> None:
    """A menu: everything said inside the <Gather> (keys cut it short), then a redirect."""
    menu = line.menu(action.node)
    timing = line.timing[action.node]
    url = urls(Hook.MENU, line_id=line.id, node_id=action.node, f=action.failures)
    gather = response.gather(
        action=url,
        method="POST",
        input="dtmf",
        num_digits=timing.num_digits,
        timeout=timing.timeout,
        finish_on_key="",
        action_on_empty_result=False,
    )
    for prompt in said:
        _say(gather, line, prompt, urls)
    if menu is not None:
        _say(gather, line, line.prompt(menu.prompt), urls)
    if timing.pause:
        gather.pause(length=timing.pause)
    # No key at all: Twilio goes on to the next verb, which reports it to the same action.
    response.redirect(url, method="POST")


def _read_case(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: ReadCase, urls: Urls
) -> None:
    """The case number, slowly, in a one-key <Gather>: the repeat key says it again."""
    url = urls(Hook.CASE_READ, line_id=line.id, node_id=action.node, n=action.number,
               r=action.repeats)
    gather = response.gather(action=url, method="POST", input="dtmf", num_digits=1,
                             timeout=CASE_REPEAT_SECONDS, finish_on_key="")
    for prompt in said:
        _say(gather, line, prompt, urls)
    response.redirect(url, method="POST")


def _ask_case(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: AskCase, urls: Urls
) -> None:
    """Listen for a case number: all its digits end the entry, and so does #."""
    node = line.spec.nodes[action.node]
    assert isinstance(node, CaseLookupNode)
    url = urls(Hook.CASE_ENTRY, line_id=line.id, node_id=action.node, f=action.failures)
    gather = response.gather(action=url, method="POST", input="dtmf",
                             num_digits=line.spec.case_digits, timeout=CASE_DIGIT_SECONDS,
                             finish_on_key="#")
    for prompt in (*said, line.prompt(node.prompt)):
        _say(gather, line, prompt, urls)
    response.redirect(url, method="POST")


def _record_case(response: VoiceResponse, line: Line, action: RecordCase, urls: Urls) -> None:
    """Record the caller's description after a beep; # or silence ends it."""
    node = line.spec.nodes[action.node]
    assert isinstance(node, NewCaseNode)
    where = {"line_id": line.id, "node_id": action.node, "n": action.number}
    _record(response, line, action.node, urls(Hook.CASE_RECORDED, **where),
            urls(Hook.CASE_TRANSCRIBED, **where), node.max_record_seconds)


def _dial(response: VoiceResponse, line: Line, action: Dial, urls: Urls) -> None:
    """Ring one step's targets at once; the caller hears ringing until someone is connected."""
    node = line.spec.nodes[action.node]
    assert isinstance(node, DialNode)
    dial = response.dial(
        action=urls(Hook.DIAL, line_id=line.id, node_id=action.node, s=action.step, n=action.case,
                    t0=action.started),
        method="POST",
        timeout=action.timeout,
        answer_on_bridge=True,
        caller_id=line.spec.numbers[0] if node.caller_id == "line" else None,
    )
    screen = (urls(Hook.SCREEN, line_id=line.id, node_id=action.node, n=action.case)
              if node.screen else None)
    for target in action.targets:
        _target(dial, target, screen)


def _target(dial: DialVerb, target: Target, screen: str | None) -> None:
    """One number (an extension is sent as tones once it answers) or one SIP address."""
    method = "POST" if screen else None
    if target.number:
        digits = EXTENSION_WAIT + target.extension if target.extension else None
        dial.number(target.number, send_digits=digits, url=screen, method=method)
    elif target.sip:
        dial.sip(target.sip, url=screen, method=method)


def render_screen(line: Line, node_id: str, whisper: Prompt, seconds: int, urls: Urls) -> str:
    """For the person called: who calls and 1 to accept, said again for about `seconds`.

    Repeating it lets someone behind a switchboard extension, who picks up a few seconds after
    the switchboard answered, still hear it; silence to the end declines.
    """
    answer_url = urls(Hook.SCREEN_ANSWER, line_id=line.id, node_id=node_id)
    response = VoiceResponse()
    gather = response.gather(action=answer_url, method="POST", input="dtmf", num_digits=1,
                             timeout=SCREEN_LAST_SECONDS, finish_on_key="")
    for _ in range(max(2, round(seconds / SCREEN_ROUND_SECONDS))):
        _say(gather, line, whisper, urls)
        gather.pause(length=SCREEN_PAUSE_SECONDS)
    response.redirect(answer_url, method="POST")
    return str(response)


def render_bridge(line: Line, whisper: Prompt, number: str, call_id: int, urls: Urls) -> str:
    """For an analyst the console called: the whisper, then the customer, from the line's number."""
    response = VoiceResponse()
    _say(response, line, whisper, urls)
    dial = response.dial(caller_id=line.spec.numbers[0], method="POST",
                         action=urls(Hook.CONSOLE_DIALED, call_id=call_id))
    dial.number(number)
    return str(response)


def render_hangup() -> str:
    """A document that ends the call (or the leg) at once."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def render_screen_result(accepted: bool) -> str:
    """Accepted: an empty document, and Twilio connects the call; else this leg hangs up."""
    response = VoiceResponse()
    if not accepted:
        response.hangup()
    return str(response)


def render_empty() -> str:
    """An empty document (the answer to callbacks outside the call, like transcriptions)."""
    return str(VoiceResponse())


def _take_message(response: VoiceResponse, line: Line, action: TakeMessage, urls: Urls) -> None:
    """Record a message after the beep; # or silence ends it, and the call goes on."""
    node = line.spec.nodes[action.node]
    assert isinstance(node, VoicemailNode)
    where = {"line_id": line.id, "node_id": action.node}
    _record(response, line, action.node, urls(Hook.MESSAGE, **where),
            urls(Hook.MESSAGE_TRANSCRIBED, **where), node.max_seconds)


def _record(
    response: VoiceResponse, line: Line, name: str, action: str, transcribed: str, seconds: int
) -> None:
    """Record after a beep (# or 5 s of silence ends it), transcribed in the line's language.

    `<Record transcribe>` knows only English: a real-time <Transcription> of the caller's side
    runs during the recording instead (its action stops it, by `name`).
    """
    response.start().transcription(
        name=name, language_code=line.spec.say_language, track="inbound_track",
        status_callback_url=transcribed, status_callback_method="POST", partial_results=False)
    response.record(action=action, method="POST", max_length=seconds, timeout=5,
                    finish_on_key="#", play_beep=True)
    # Silence records nothing and Twilio skips the action: go on all the same.
    response.redirect(action, method="POST")


def _hold(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: Hold, urls: Urls
) -> None:
    """The place, the wait and the wait message, then hold music.

    A pause where the line has no music; inside a one-key <Gather> when a key asks for a
    callback. Twilio asks the wait URL again when the document ends.
    """
    parent: VoiceResponse | GatherVerb = response
    if action.callback_key:
        parent = response.gather(
            action=urls(Hook.WAIT_KEY, line_id=line.id, node_id=action.node), method="POST",
            input="dtmf", num_digits=1, timeout=1, finish_on_key="",
            action_on_empty_result=False)
    for prompt in said:
        _say(parent, line, prompt, urls)
    node = _queue_node(line, action.node)
    music = node.hold_music or line.spec.hold_music
    if music:
        parent.play(music)
    else:
        parent.pause(length=10)


def _ask(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: Ask, urls: Urls
) -> None:
    """A question on the keypad: the prompts inside the <Gather>; silence goes to the same URL."""
    url = urls(Hook(action.hook), line_id=line.id, **dict(action.values))
    gather = response.gather(action=url, method="POST", input="dtmf",
                             num_digits=action.num_digits, timeout=action.timeout,
                             finish_on_key=action.finish_on_key)
    for prompt in said:
        _say(gather, line, prompt, urls)
    response.redirect(url, method="POST")


def _queue_node(line: Line, node_id: str) -> QueueNode:
    """The queue node `node_id` (the navigator only plans queues for queue nodes)."""
    node = line.spec.nodes[node_id]
    assert isinstance(node, QueueNode)
    return node
