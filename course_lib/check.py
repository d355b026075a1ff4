"""Self-check exercises: ``check`` an answer, ask for a ``hint``, reveal the ``solution``.

An unanswered exercise (answer ``None``) prints a reminder and returns ``None``, so a
notebook runs top to bottom headless without anyone typing an answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Exercise:
    """One exercise.

    Args:
        prompt: the question, shown by :meth:`show`.
        answer: the expected answer: a number (compared with ``tolerance``), a string
            (compared case- and space-insensitively), or a predicate ``f(response) -> bool``.
        hint: a nudge that does not give the answer away.
        solution: the worked answer, shown by :meth:`solution`.
        tolerance: relative tolerance for numeric answers (0.1 = within 10 %).
        choices: allowed answers for a multiple-choice question (strings).
    """

    prompt: str
    answer: Any
    hint_text: str
    solution_text: str
    tolerance: float = 0.0
    choices: Sequence[str] | None = None

    def __post_init__(self):
        if not self.prompt or not self.hint_text or not self.solution_text:
            raise ValueError("an exercise needs a prompt, a hint and a solution")
        if not (isinstance(self.tolerance, (int, float)) and 0 <= self.tolerance < 1):
            raise ValueError(f"tolerance must be a number in [0, 1), got {self.tolerance!r}")
        if self.choices is not None and isinstance(self.answer, str):
            if _norm(self.answer) not in {_norm(c) for c in self.choices}:
                raise ValueError(
                    f"answer {self.answer!r} is not one of choices {list(self.choices)}")

    def show(self) -> str:
        """Print and return the question."""
        text = self.prompt
        if self.choices:
            text += "\nChoices: " + ", ".join(self.choices)
        print(text)
        return text

    def is_correct(self, response: Any) -> bool:
        """Return whether ``response`` matches the expected answer."""
        expected = self.answer
        if callable(expected):
            return bool(expected(response))
        if isinstance(expected, str):
            return isinstance(response, str) and _norm(response) == _norm(expected)
        if isinstance(expected, bool) or isinstance(response, bool):
            return response is expected
        if isinstance(expected, (int, float)):
            if not isinstance(response, (int, float)):
                try:
                    response = float(response)
                except (TypeError, ValueError):
                    return False
            return math.isclose(float(response), float(expected), rel_tol=self.tolerance,
                                abs_tol=1e-12)
        return response == expected

    def check(self, response: Any) -> bool | None:
        """Print whether ``response`` is right; ``None`` means not answered yet."""
        if response is None:
            print("Not answered yet: replace None with your answer and run the cell again.")
            return None
        if self.choices is not None and isinstance(response, str):
            if _norm(response) not in {_norm(c) for c in self.choices}:
                print(f"{response!r} is not one of the choices: {', '.join(self.choices)}")
                return False
        ok = self.is_correct(response)
        print("Correct!" if ok else "Not quite. Try again, or call .hint().")
        return ok

    def hint(self) -> str:
        """Print and return the hint."""
        print(f"Hint: {self.hint_text}")
        return self.hint_text

    def solution(self) -> str:
        """Print and return the worked solution."""
        print(f"Solution: {self.solution_text}")
        return self.solution_text


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def exercise(
    prompt: str,
    answer: Any | Callable[[Any], bool],
    *,
    hint: str,
    solution: str,
    tolerance: float = 0.0,
    choices: Sequence[str] | None = None,
) -> Exercise:
    """Build an :class:`Exercise` (keyword names read better in notebooks)."""
    return Exercise(prompt, answer, hint, solution, tolerance, choices)
