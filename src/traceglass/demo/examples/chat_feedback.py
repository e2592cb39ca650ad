"""A support chat that collects feedback: end users' thumbs up/down and a code check, as scores.

What it shows:
- `traceglass.current_trace_id()` inside a traced turn: the id the app sends its frontend with each
  reply, so feedback given later (another request, another process) lands on the right trace;
- `traceglass.score("user_feedback", False, trace_id=..., source="human", user_id=..., comment=...)`
  after the turn has ended: a person's thumbs-down with a comment (a browser can post the same to
  `traceglass ui`'s REST API: see docs/scores.md);
- `traceglass.score("complete_answer", ..., source="code")` inside the turn, with no ids: a code check
  (did the reply finish, or was it cut at max_tokens?) that attaches to the current span;
- scores travel as OTel `gen_ai.evaluation.result` log records and are stored beside the spans.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/chat_feedback.py   (then: traceglass scores, traceglass show TRACE_ID)
"""

from __future__ import annotations

import traceglass
from traceglass import observe
from traceglass.demo import openai_endpoint

SYSTEM = "You are the support assistant of a bike shop. Answer in one or two friendly sentences."
# (user, question, max_tokens for the call, the thumb the user then gives: True up, False down, None none, comment)
TURNS = [
    ("maya", "Hello! Do you repair e-bikes?", None, True, None),
    ("maya", "How long does a tune-up take, and what does it cost?", 8, False, "The answer stopped mid-sentence."),
    ("leo", "Is the weather good for a ride this weekend?", None, None, None),
]


@observe(type="chain", name="chat_turn")
def chat_turn(client, history: list, question: str, max_tokens: int | None) -> tuple[str, str]:
    """One turn: the model's reply, checked by code, and the trace id the frontend keeps for feedback."""
    history.append({"role": "user", "content": question})
    options = {"max_tokens": max_tokens} if max_tokens else {}
    choice = client.chat.completions.create(model="gpt-4o-mini", messages=history, **options).choices[0]
    history.append({"role": "assistant", "content": choice.message.content})
    complete = choice.finish_reason == "stop"
    # No ids: the score attaches to the current span (this turn) and its trace.
    traceglass.score("complete_answer", complete, source="code",
                     comment=None if complete else f"finish_reason={choice.finish_reason}")
    return choice.message.content, traceglass.current_trace_id()


def main() -> None:
    traceglass.configure(service_name="chat-feedback")
    histories: dict[str, list] = {}
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        for number, (user, question, max_tokens, thumb, comment) in enumerate(TURNS, 1):
            history = histories.setdefault(user, [{"role": "system", "content": SYSTEM}])
            with traceglass.session(f"{user}-chat", user_id=user):
                reply, trace_id = chat_turn(client, history, question, max_tokens)
            print(f"{user} #{number}: {reply}")
            if thumb is None:
                continue
            # Later, the frontend posts the thumb with the trace id it got beside the reply.
            traceglass.score("user_feedback", thumb, trace_id=trace_id, source="human", user_id=user,
                             comment=comment)
            print(f"  {user} gave it a thumbs-{'up' if thumb else 'down'}" + (f": {comment}" if comment else ""))
    traceglass.flush()


if __name__ == "__main__":
    main()
