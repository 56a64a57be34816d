"""An SMTP server on 127.0.0.1 (aiosmtpd, which speaks the real protocol): keeps every message it accepts, parsed,
and answers DATA with the queued reply codes first (e.g. "451 try again later") for the length of a `with`."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Mailbox:
    url: str = ""
    replies: list[str] = field(default_factory=list)  # answered to DATA before accepting, e.g. "451 later"
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)  # (envelope recipients, message)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's name
            if box.replies:
                return box.replies.pop(0)
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            box.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        controller.stop()
