"""Render a navigator `Plan` as a TwiML document (twilio's `VoiceResponse`)."""

from __future__ import annotations

from typing import Protocol

from twilio.twiml.voice_response import Dial as DialVerb
from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.lines import Line
from ivr.menu_model import CaseLookupNode, DialNode, NewCaseNode, QueueNode, Target
from ivr.navigator import (
    AskCase,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Hold,
    Leave,
    Plan,
    ReadCase,
    RecordCase,
)
from ivr.prompts import Prompt

EXTENSION_WAIT = "wwww"  # two seconds after the answer before the extension's digits
CASE_REPEAT_SECONDS = 4  # after the number is read: time to press the repeat key
CASE_DIGIT_SECONDS = 6  # between the digits of a case number read off a paper or a screen


class Urls(Protocol):
    """Where Twilio is sent next; the web layer builds these."""

    def menu(self, line: str, node: str, failures: int) -> str:
        """The menu's <Gather> action (and its no-key redirect)."""

    def dial(self, line: str, node: str, index: int) -> str:
        """The <Dial> action, told how the dial ended."""

    def queue(self, line: str, node: str) -> str:
        """The <Enqueue> action, told how the wait ended."""

    def wait(self, line: str, node: str) -> str:
        """The <Enqueue> waitUrl, asked what to play while the caller waits."""

    def audio(self, language: str, filename: str) -> str:
        """A recorded prompt."""

    def case_read(self, line: str, node: str, number: str, repeats: int) -> str:
        """After a case number was read back."""

    def case_recorded(self, line: str, node: str, number: str) -> str:
        """The <Record> action for a case's description."""

    def case_transcribed(self, line: str, node: str, number: str) -> str:
        """The transcription callback for a case's description."""

    def case_entry(self, line: str, node: str, failures: int) -> str:
        """The <Gather> action of a case look-up."""


def render(line: Line, plan: Plan, urls: Urls) -> str:
    """Return the TwiML document for `plan` on `line`."""
    response = VoiceResponse()
    action = plan.action
    if isinstance(action, Gather):
        _gather(response, line, plan.prompts, action, urls)
    elif isinstance(action, ReadCase):
        _read_case(response, line, plan.prompts, action, urls)
    elif isinstance(action, AskCase):
        _ask_case(response, line, plan.prompts, action, urls)
    else:
        for prompt in plan.prompts:
            _say(response, line, prompt, urls)
        if isinstance(action, Dial):
            _dial(response, line, action, urls)
        elif isinstance(action, Enqueue):
            response.enqueue(
                _queue_node(line, action.node).queue,
                action=urls.queue(line.id, action.node),
                method="POST",
                wait_url=urls.wait(line.id, action.node),
                wait_url_method="POST",
            )
        elif isinstance(action, Hold):
            _hold(response, line, action)
        elif isinstance(action, Leave):
            response.leave()
        elif isinstance(action, RecordCase):
            _record_case(response, line, action, urls)
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)


def render_message(text: str, voice: str, language: str) -> str:
    """A document that says `text` and hangs up (for calls no line can take)."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language)
    response.hangup()
    return str(response)


def _say(parent: VoiceResponse | GatherVerb, line: Line, prompt: Prompt, urls: Urls) -> None:
    """Play the prompt's recording where there is one, else say its text."""
    if prompt.audio:
        parent.play(urls.audio(line.spec.language, prompt.audio))
    else:
        parent.say(prompt.text, voice=line.spec.voice, language=line.spec.say_language)


def _gather(
    response: VoiceResponse, line: Line, said: tuple[Prompt, ...], action: Gather, urls: Urls
) -> None:
    """A menu: everything said inside the <Gather> (keys cut it short), then a redirect."""
    menu = line.menu(action.node)
    timing = line.timing[action.node]
    url = urls.menu(line.id, action.node, action.failures)
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
    url = urls.case_read(line.id, action.node, action.number, action.repeats)
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
    url = urls.case_entry(line.id, action.node, action.failures)
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
    url = urls.case_recorded(line.id, action.node, action.number)
    response.record(
        action=url,
        method="POST",
        max_length=node.max_record_seconds,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
        transcribe=True,
        transcribe_callback=urls.case_transcribed(line.id, action.node, action.number),
    )
    # Silence records nothing and Twilio skips the action: go on all the same.
    response.redirect(url, method="POST")


def _dial(response: VoiceResponse, line: Line, action: Dial, urls: Urls) -> None:
    """Ring one target (in turn) or all of them (at once); the action hears how it ended."""
    node = line.spec.nodes[action.node]
    assert isinstance(node, DialNode)
    targets = node.targets if action.index < 0 else [node.targets[action.index]]
    dial = response.dial(
        action=urls.dial(line.id, action.node, action.index),
        method="POST",
        timeout=node.timeout,
        answer_on_bridge=True,
    )
    for target in targets:
        _target(dial, target)


def _target(dial: DialVerb, target: Target) -> None:
    """One number (the extension is sent as tones once it answers) or one SIP address."""
    if target.number:
        digits = EXTENSION_WAIT + target.extension if target.extension else None
        dial.number(target.number, send_digits=digits)
    elif target.sip:
        dial.sip(target.sip)


def _hold(response: VoiceResponse, line: Line, action: Hold) -> None:
    """Hold music after the wait message (a pause where the line has no music)."""
    node = _queue_node(line, action.node)
    music = node.hold_music or line.spec.hold_music
    if music:
        response.play(music)
    else:
        response.pause(length=10)


def _queue_node(line: Line, node_id: str) -> QueueNode:
    """The queue node `node_id` (the navigator only plans queues for queue nodes)."""
    node = line.spec.nodes[node_id]
    assert isinstance(node, QueueNode)
    return node
