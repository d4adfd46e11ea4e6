"""Input screening time of one request just under max_conversation_chars (unique text),
with and without the charter model, and without either trained model (charter, PII).

Usage: .venv/bin/python scripts/experiments/screening_cost.py
"""

import random
import tempfile
import time

from charter.core.chat import ChatMessage
from charter.core.config import load_settings
from charter.core.principal import local_admin
from charter.runtime import Runtime

WORDS = ("the team reviewed the quarterly plan and agreed on next steps for the garden "
         "project").split()


def text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


for use_model, use_pii in (("true", "true"), ("false", "true"), ("false", "false")):
    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": tempfile.mkdtemp(),
                                     "CHARTER_CHARTER_MODEL": use_model,
                                     "CHARTER_PII_MODEL": use_pii}))
    rt.screen.screen_input(local_admin(), [ChatMessage("user", text(99999, 300))])  # warm
    for parts, words in ((199, 80), (40, 400)):
        messages = [ChatMessage("user" if i % 2 == 0 else "assistant",
                                text(i + parts * 7919, words)) for i in range(parts)]
        messages.append(ChatMessage("user", "Thanks."))
        chars = sum(len(m.content) for m in messages)
        t0 = time.perf_counter()
        rt.screen.screen_input(local_admin(), messages)
        print(f"charter model={use_model} pii model={use_pii} {parts + 1} messages, {chars} chars: "
              f"{time.perf_counter() - t0:.2f} s")
    rt.close()
