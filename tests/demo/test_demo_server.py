"""``traceglass demo-server`` (and ``python -m traceglass.demo.fake_openai``) serves the bundled
OpenAI-compatible API until Ctrl-C; the real openai SDK talks to it."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import anthropic
import openai
import pytest

_URL = re.compile(r"traceglass demo server: (http://127\.0\.0\.1:(\d+)/v1)")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "OTEL_", "TRACEGLASS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Lines:
    """A process's stdout lines, read by a thread so each wait is bounded."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")  # end of output

    def next(self, timeout: float = 60.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s") from None
        if not line:
            self._lines.put(line)  # past the end: every later call answers "" at once
        return line.rstrip("\n")


def _interrupt(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(timeout=30)
    return code, process.stderr.read()


@pytest.mark.parametrize("command", [["-m", "traceglass", "demo-server"], ["-m", "traceglass.demo.fake_openai"]],
                         ids=["demo-server", "python-m-fake_openai"])
def test_demo_server_answers_the_openai_sdk_until_ctrl_c(command):
    process = subprocess.Popen([sys.executable, *command, "--port", "0"], env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines = _Lines(process)
    try:
        first = lines.next()
        match = _URL.fullmatch(first)
        assert match, first
        base_url, port = match.group(1), int(match.group(2))
        assert port != 0
        assert lines.next() == f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=traceglass-demo"
        root_url = base_url[: -len("/v1")]
        assert lines.next() == f"  export ANTHROPIC_BASE_URL={root_url} ANTHROPIC_API_KEY=traceglass-demo"
        assert lines.next() == "  Ctrl-C stops it."

        with openai.OpenAI(base_url=base_url, api_key="any-key", max_retries=0, timeout=30) as client:
            messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            assert reply.model == "gpt-4o-mini-2024-07-18"
            assert reply.choices[0].message.content == "Hello! Happy to help with whatever you are working on."
            assert reply.choices[0].finish_reason == "stop"
            # 7 words and marks + 7 per message; the reply's 12 words and marks
            assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (21, 12, 33)

            chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                                         stream_options={"include_usage": True}))
            text = [c.choices[0].delta.content for c in chunks if c.choices]
            assert text == ["", "Hello!", " Happy", " to", " help", " with", " whatever", " you", " are",
                            " working", " on.", None]
            assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
            assert chunks[-1].choices == []
            assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (21, 12)

            assert [m.id for m in client.models.list()] == ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"]
        with anthropic.Anthropic(base_url=root_url, api_key="any-key", max_retries=0, timeout=30) as claude:
            message = claude.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                             messages=[{"role": "user", "content": "Say hello."}])
            assert (message.model, message.stop_reason) == ("claude-haiku-4-5-20251001", "end_turn")
            assert message.content[0].text == "Hello! Happy to help with whatever you are working on."
        code, err = _interrupt(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert (code, lines.next(), lines.next(), err) == (0, "demo server stopped", "", "")
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_demo_server_on_a_busy_port_is_a_usage_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "traceglass", "demo-server", "--port", str(port)], env=_env(),
                              capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"traceglass: port {port} on 127.0.0.1 is already in use; pick another with --port\n"
