"""Sessions and users across a multi-turn conversation.

What it shows:
- `traceglass.session(session_id, user_id=..., tags=..., metadata=...)` around each turn: every
  span inside — the decorated turn and the auto-instrumented OpenAI call — carries `session.id`,
  `user.id`, tags and metadata, so the store and dashboard can filter and total by them;
- two users with two sessions each; the conversation history grows turn by turn, and the repeated
  history shows up as cached input tokens, priced at the cached rate.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/sessions_users.py   (then: traceglass stats --by session)
"""

from __future__ import annotations

import traceglass
from traceglass import observe
from traceglass.demo import openai_endpoint

SYSTEM = ("You are a patient travel assistant. Keep answers to two sentences, mention prices in euros, "
          "and always suggest one thing to see. ") * 3
CONVERSATIONS = {
    ("alice", "alice-trip-1"): ["I'm going to Lisbon in May.", "What should I eat there?", "And one museum?"],
    ("alice", "alice-trip-2"): ["Now Porto for a weekend.", "Is the train from Lisbon quick?"],
    ("bob", "bob-trip-1"): ["Planning Oslo in winter.", "How cold does it get?", "Any day trips?"],
    ("bob", "bob-trip-2"): ["Quick question about Bergen.", "Is it rainy?"],
}


@observe(type="chain", name="conversation_turn")
def turn(client, history: list, question: str) -> str:
    history.append({"role": "user", "content": question})
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=history).choices[0].message.content
    history.append({"role": "assistant", "content": reply})
    return reply


def main() -> None:
    traceglass.configure(service_name="travel-assistant")
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        for (user, session_id), questions in CONVERSATIONS.items():
            history = [{"role": "system", "content": SYSTEM}]
            for number, question in enumerate(questions, 1):
                with traceglass.session(session_id, user_id=user, tags=["travel"], metadata={"turn": number}):
                    print(f"{user}/{session_id} #{number}:", turn(client, history, question)[:60], "...")
    traceglass.flush()


if __name__ == "__main__":
    main()
