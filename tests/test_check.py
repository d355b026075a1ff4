import pytest

from course_lib import check


def numeric():
    return check.exercise("How many?", 10.0, hint="count", solution="ten", tolerance=0.1)


def test_right_answer_passes_and_wrong_answers_fail(capsys):
    ex = numeric()
    assert ex.check(10.5) is True
    assert ex.check(12) is False
    assert ex.check("ten") is False
    assert ex.check([10]) is False
    assert "Not quite" in capsys.readouterr().out


def test_unanswered_is_neither_right_nor_an_error(capsys):
    assert numeric().check(None) is None
    assert "Not answered yet" in capsys.readouterr().out


def test_strings_ignore_case_and_spaces_and_choices_are_enforced():
    ex = check.exercise("Which end?", "Pre", hint="h", solution="s", choices=["pre", "post"])
    assert ex.check("  pre ") is True
    assert ex.check("post") is False
    assert ex.check("middle") is False


def test_predicate_answers():
    ex = check.exercise("A factor of 12 above 3?", lambda r: r > 3 and 12 % r == 0,
                        hint="h", solution="4, 6 or 12")
    assert ex.check(6) is True
    assert ex.check(5) is False


def test_bool_answers_are_not_numbers():
    ex = check.exercise("Does it vanish?", True, hint="h", solution="yes")
    assert ex.check(True) is True
    assert ex.check(1) is False


def test_hint_and_solution_are_printed(capsys):
    ex = numeric()
    assert ex.hint() == "count" and ex.solution() == "ten"
    out = capsys.readouterr().out
    assert "Hint: count" in out and "Solution: ten" in out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "", "answer": 1, "hint": "h", "solution": "s"}, "needs a prompt"),
        ({"prompt": "q", "answer": 1, "hint": "", "solution": "s"}, "needs a prompt"),
        ({"prompt": "q", "answer": 1, "hint": "h", "solution": "s", "tolerance": 2},
         "tolerance must be"),
        ({"prompt": "q", "answer": "x", "hint": "h", "solution": "s", "choices": ["a"]},
         "not one of choices"),
    ],
)
def test_bad_exercises_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check.exercise(**kwargs)
