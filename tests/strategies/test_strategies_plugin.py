"""Import isolation and the Hypothesis entry-point hook, each checked in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def run_fresh(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_instructkit_does_not_import_hypothesis() -> None:
    out = run_fresh(
        """
        import sys
        import instructkit
        print(sorted(m for m in sys.modules if m == "hypothesis" or m.startswith("hypothesis.")))
        """
    )
    assert out.strip() == "[]"


def test_entry_point_registers_every_record_type() -> None:
    # Only `hypothesis` is imported here: the strategies arrive through the plugin hook.
    out = run_fresh(
        """
        from hypothesis import HealthCheck, given, settings, strategies as st
        import instructkit
        from instructkit import Conversation, Instruction, Message, Preference, ToolCall

        kinds = (ToolCall, Message, Conversation, Instruction, Preference)
        for kind in kinds:
            print(repr(st.from_type(kind)))

        # Five records per example: generation speed is not what this checks, and a busy
        # machine must not fail it.
        @settings(max_examples=10, database=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.tuples(*(st.from_type(kind) for kind in kinds)))
        def check(values):
            for kind, value in zip(kinds, values):
                assert type(value) is kind
                assert kind.model_validate(value.to_dict()) == value

        check()
        print("ok")
        """
    )
    assert out.split() == [
        "tool_calls()",
        "messages()",
        "conversations()",
        "instructions()",
        "preferences()",
        "ok",
    ]


def test_hook_works_when_instructkit_is_imported_first() -> None:
    # instructkit.strategies imports hypothesis, which runs the hook while the strategies
    # module is still half-imported; the hook must not need it.
    out = run_fresh(
        """
        import instructkit.strategies
        from hypothesis import strategies as st
        from instructkit import Conversation
        print(repr(st.from_type(Conversation)))
        """
    )
    assert out.strip() == "conversations()"


def test_hook_is_skipped_with_hypothesis_no_plugins() -> None:
    out = run_fresh(
        """
        from hypothesis import strategies as st
        from instructkit import Instruction
        print(repr(st.from_type(Instruction)))
        """,
        HYPOTHESIS_NO_PLUGINS="1",
    )
    # Hypothesis falls back to its own inference from the model's signature.
    assert "instructions()" not in out


def test_importing_hypothesis_does_not_import_instructkit() -> None:
    # Every project with instructkit installed loads its plugin hook with Hypothesis; the
    # hook must not import the package (and pyarrow with it) for people who never use it.
    out = run_fresh(
        """
        import sys
        import hypothesis
        from hypothesis import strategies as st
        print(sorted(m for m in sys.modules if m.startswith(("instructkit", "pyarrow"))))
        """
    )
    assert out.strip() == "[]"


def test_strategies_are_registered_whichever_is_imported_first() -> None:
    out = run_fresh(
        """
        import instructkit
        from hypothesis import strategies as st
        print(repr(st.from_type(instructkit.Instruction)))
        """
    )
    assert out.strip() == "instructions()"
    out = run_fresh(
        """
        from hypothesis import strategies as st
        import instructkit
        print(repr(st.from_type(instructkit.Instruction)))
        """
    )
    assert out.strip() == "instructions()"
