"""Recorded prompt files: schema, hashes and rendering (the Molmo release's olmo/data/data_formatter.py and lmms-eval's
task files, as each prompt set's `source` names them)."""

import hashlib

import pytest

from evals.items import EvalItem
from evals.prompts import PROMPTS_DIR, list_prompt_sets, load_prompt_file, prompt_hash, render_prompt, task_prompts
from evals.tasks import PAPER_TASKS, TASKS


def test_one_prompt_file_per_task():
    assert sorted(path.stem for path in PROMPTS_DIR.glob("*.yaml")) == sorted(TASKS)


@pytest.mark.parametrize("task", list(TASKS))
def test_each_file_records_molmo_and_generic_sets(task):
    assert {"molmo", "generic"} <= set(list_prompt_sets(task))
    assert all(prompt_set.source for prompt_set in task_prompts(task).sets.values())


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_the_molmo_sets_of_the_paper_s_benchmarks_use_the_release_s_settings(task):
    """launch_scripts/utils.py of the 0924 release: 36 crops and 12 new tokens, 12 crops and 192 tokens to count."""
    molmo = task_prompts(task).get("molmo")
    expected = (192, 12) if TASKS[task].kind == "count" else (12, 36)
    assert (molmo.max_new_tokens, molmo.max_crops) == expected


@pytest.mark.parametrize("task", list(TASKS))
def test_hash_is_the_sha256_of_the_file_bytes(task):
    assert prompt_hash(task) == hashlib.sha256((PROMPTS_DIR / f"{task}.yaml").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("task", "molmo", "generic"),
    [
        (
            "vqav2",
            "vqa2: What color is the bus?",
            "What color is the bus?\nAnswer the question using a single word or phrase.",
        ),
        (
            "chartqa",
            "chart_qa: What color is the bus?",
            "What color is the bus?\nAnswer the question with a single word.",
        ),
        ("docvqa", "doc_qa: What color is the bus?", None),
        ("infovqa", "info_qa: What color is the bus?", None),
        ("textvqa", "text_vqa: What color is the bus?", None),
        ("countbenchqa", "What color is the bus?", "What color is the bus?\nAnswer with a single number."),
    ],
)
def test_short_answer_style_tags(task, molmo, generic):
    item = EvalItem("q1", "What color is the bus?", ["red"])
    rendered = render_prompt(task, "molmo", item)
    assert rendered.text == molmo
    assert rendered.prompt_hash == prompt_hash(task)
    if generic is not None:
        assert render_prompt(task, "generic", item).text == generic


def test_multiple_choice_formats():
    item = EvalItem("q1", "Which animal eats grass?", ["B"], choices=["lion", "cow"])
    molmo = render_prompt("ai2d", "molmo", item)
    assert molmo.text == "ai2_diagram: Which animal eats grass?\nA: lion\nB: cow\n"
    assert (molmo.max_new_tokens, molmo.max_crops, molmo.unlabelled_options) == (12, 36, False)
    generic = render_prompt("ai2d", "generic", item)
    assert generic.text == (
        "Which animal eats grass?\nA. lion\nB. cow\nAnswer with the option's letter from the given choices directly."
    )
    assert render_prompt("mmmu", "molmo", item).text == "a_okvqa_mc: Which animal eats grass?\nA: lion\nB: cow\n"


def test_ai2d_letter_options_are_listed_unlabelled():
    item = EvalItem("q2", "Which label marks the sun?", ["C"], choices=["d", "B", "A", "C"])
    rendered = render_prompt("ai2d", "molmo", item)
    assert rendered.text == "ai2_diagram_no_letter: Which label marks the sun?\nD\nB\nA\nC\n"
    assert rendered.unlabelled_options is True
    assert render_prompt("ai2d", "generic", item).unlabelled_options is False


def test_realworldqa_short_answer_keeps_the_first_line_and_multiple_choice_is_verbatim():
    short = EvalItem("r1", "How many cars are there?\nPlease answer directly with a single word or number.", ["3"])
    assert render_prompt("realworldqa", "molmo", short).text == "vqa2: How many cars are there?"
    question = "Which way?\nA. left\nB. right\nPlease answer directly with only the letter of the correct option."
    choice = EvalItem("r2", question, ["A"], choices=["left", "right"])
    assert render_prompt("realworldqa", "molmo", choice).text == "a_okvqa_mc: " + question
    assert render_prompt("realworldqa", "generic", choice).text == question


def test_mathvista_question_core_and_answer_type_hints():
    item = EvalItem(
        "m1",
        "Hint: read the chart.\nQuestion: What is the peak value?",
        ["1.5"],
        meta={"answer_type": "float", "precision": 1.0},
    )
    assert render_prompt("mathvista", "molmo", item).text == "vqa2: What is the peak value?"
    assert render_prompt("mathvista", "generic", item).text.endswith(
        "\nAnswer the question using a single floating-point number with one decimal place."
    )
    integer = EvalItem("m2", "How many?", ["3"], meta={"answer_type": "integer", "precision": None})
    assert (
        render_prompt("mathvista", "generic", integer).text
        == "How many?\nAnswer the question using a single integer number."
    )
    text = EvalItem("m3", "Who?", ["Bob"], meta={"answer_type": "text"})
    assert render_prompt("mathvista", "generic", text).text == "Who?"


def test_unknown_set_names_the_file_and_the_sets():
    with pytest.raises(ValueError, match=r"vqav2\.yaml: no prompt set 'llava'; available sets: molmo, generic"):
        render_prompt("vqav2", "llava", EvalItem("q", "Q?", ["a"]))


def test_unknown_task_and_missing_template():
    with pytest.raises(ValueError, match="no prompt file for task 'vqa3'"):
        render_prompt("vqa3", "molmo", EvalItem("q", "Q?", ["a"]))
    with pytest.raises(ValueError, match="no 'multiple_choice' template"):
        render_prompt("vqav2", "molmo", EvalItem("q", "Q?", ["A"], choices=["x", "y"]))
    with pytest.raises(ValueError, match="no 'short_answer' template"):
        render_prompt("ai2d", "molmo", EvalItem("q", "Q?", ["a"]))


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


GOOD_SET = "    source: test\n    templates: {short_answer: 'x: {question}'}\n    max_new_tokens: 4\n    max_crops: 2\n"


def test_load_prompt_file_validates_the_schema(tmp_path):
    loaded = load_prompt_file(_write(tmp_path, "demo", "task: demo\nsets:\n  a:\n" + GOOD_SET))
    assert loaded.sets["a"].templates == {"short_answer": "x: {question}"}
    assert loaded.sha256 == hashlib.sha256((tmp_path / "demo.yaml").read_bytes()).hexdigest()
    bad = {
        "task: other\nsets:\n  a:\n" + GOOD_SET: "'task' must be 'demo'",
        "task: demo\nsets: {}\n": "'sets' must be a non-empty mapping",
        "task: demo\nsets:\n  a:\n" + GOOD_SET.replace("{question}", "{answer}"): r"uses \['answer'\]",
        "task: demo\nsets:\n  a:\n"
        + GOOD_SET.replace("max_crops: 2", "max_crops: 0"): "'max_crops' must be a positive",
        "task: demo\nsets:\n  a:\n" + GOOD_SET.replace("short_answer", "long_answer"): "unknown template name",
        "task: demo\nsets:\n  a:\n"
        + GOOD_SET.replace("short_answer: 'x: {question}'", "multiple_choice: '{options}'"): "option_format",
    }
    for text, message in bad.items():
        with pytest.raises(ValueError, match=message) as error:
            load_prompt_file(_write(tmp_path, "demo", text))
        assert "demo.yaml" in str(error.value)


def test_options_only_in_multiple_choice_templates_and_malformed_templates(tmp_path):
    options_in_short = "task: demo\nsets:\n  a:\n" + GOOD_SET.replace("{question}", "{options}")
    with pytest.raises(ValueError, match=r"uses \['options'\]"):
        load_prompt_file(_write(tmp_path, "demo", options_in_short))
    with pytest.raises(ValueError, match=r"demo\.yaml: set 'a'"):
        load_prompt_file(
            _write(tmp_path, "demo", "task: demo\nsets:\n  a:\n" + GOOD_SET.replace("{question}", "{question"))
        )
