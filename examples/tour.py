"""A short tour of instructkit's records and dialects (runs in a second)."""

from __future__ import annotations

import instructkit as ik

# A row as Alpaca stores it, and the same data as a chat conversation.
row = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
guess = ik.detect_dialect([row])
record = ik.parse_row(row, dialect=guess.dialect)
print(f"detected {guess.dialect!r} (confidence {guess.confidence:.0%})")
print("record:", record)

chat = record.to_conversation()
for message in chat.messages:
    print(f"  {message.role:>9}: {message.content!r}")
assert chat.to_instruction() == record  # the join of instruction and input is undone exactly

# Writing to another dialect reports anything the target layout cannot carry.
report = ik.LossReport()
ik.to_row(
    ik.Instruction(instruction="Hi", response="Hello", id="7", meta={"n": 1}),
    dialect="alpaca",
    report=report,
)
print("alpaca row loses:", report.summary())

# Bad data fails with the field path and what was expected.
try:
    ik.parse_row({"instruction": "", "input": "", "output": "x"}, dialect="alpaca")
except ik.DataError as err:
    print("error:", err)
