"""`molmo-arena eval score` end to end, through the real console entry point."""

import json

import pytest

from molmo_arena import main

VQA_LINES = [
    {"id": "q1", "prediction": "Two", "answers": ["2"] * 9 + ["3"]},  # 1.0 (molmo 1.0)
    {"id": "q2", "prediction": "Answer: a dog", "answers": ["dog"] * 3 + ["cat"] * 7},  # 0.0 (molmo 1.0)
    {"id": 3, "prediction": "", "answers": ["yes"] * 10},  # 0.0, unparsed
    {"id": "q4", "prediction": "red", "answers": ["red"] + ["blue"] * 9, "meta": {"source": "test"}},  # 0.3 (1/3)
]


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scores_a_vqa_file_and_prints_the_task_score(tmp_path, capsys):
    predictions = _write_jsonl(tmp_path / "preds.jsonl", VQA_LINES)
    out = tmp_path / "scores" / "vqav2.jsonl"
    assert main(["eval", "score", "vqav2", str(predictions), "--out", str(out), "--seed", "0"]) == 0
    rows = _read_jsonl(out)
    assert [row["id"] for row in rows] == ["q1", "q2", 3, "q4"]
    assert [row["score"] for row in rows] == pytest.approx([1.0, 0.0, 0.0, 0.3])
    assert [row["parsed"] for row in rows] == ["2", "answer: dog", None, "red"]
    printed = capsys.readouterr().out
    assert "vqav2 vqa_accuracy (official scoring): 32.50 (95% bootstrap CI " in printed
    assert "items 4, unparsed 1" in printed
    assert not list(out.parent.glob("*.tmp"))


def test_the_molmo_scoring_profile(tmp_path, capsys):
    predictions = _write_jsonl(tmp_path / "preds.jsonl", VQA_LINES)
    out = tmp_path / "molmo.jsonl"
    assert main(["eval", "score", "vqav2", str(predictions), "--scoring", "molmo", "--out", str(out)]) == 0
    assert [row["score"] for row in _read_jsonl(out)] == pytest.approx([1.0, 1.0, 0.0, 1 / 3])
    assert "vqav2 vqa_score (molmo scoring): 58.33" in capsys.readouterr().out


def test_printed_interval_is_deterministic_for_a_seed(tmp_path, capsys):
    predictions = _write_jsonl(tmp_path / "preds.jsonl", VQA_LINES)
    outputs = []
    for seed in ("7", "7", "8"):
        assert main(["eval", "score", "vqav2", str(predictions), "--seed", seed]) == 0
        outputs.append(capsys.readouterr().out.split("CI ")[1].split(",")[0])
    assert outputs[0] == outputs[1]
    low, high = (float(value) for value in outputs[0].split("-"))
    assert 0.0 <= low <= 32.5 <= high <= 100.0


def test_multiple_choice_file(tmp_path, capsys):
    choices = ["a cat", "a dog", "a cow"]
    lines = [
        {"id": "a", "prediction": "(B)", "answers": ["B"], "choices": choices},
        {"id": "b", "prediction": "a cow", "answers": ["B"], "choices": choices},
        {"id": "c", "prediction": "a dgo", "answers": ["B"], "choices": choices},
        {"id": "d", "prediction": "...", "answers": ["B"], "choices": choices},
    ]
    out = tmp_path / "scores.jsonl"
    assert main(["eval", "score", "ai2d", str(_write_jsonl(tmp_path / "p.jsonl", lines)), "--out", str(out)]) == 0
    assert [(row["score"], row["parsed"]) for row in _read_jsonl(out)] == [
        (1.0, "B"),
        (0.0, "C"),
        (1.0, "B"),
        (0.0, None),
    ]
    printed = capsys.readouterr().out
    assert "ai2d mc_accuracy (official scoring): 50.00" in printed
    assert "items 4, unparsed 1" in printed
    assert "nearest_option: 25.00" in printed


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (
            {"id": "x", "prediction": "yes", "answers": "yes"},
            "preds.jsonl:2: field 'answers': expected a list of strings, got 'yes'",
        ),
        (
            {"id": "x", "prediction": "yes", "answers": []},
            "preds.jsonl:2: field 'answers': expected a list of strings, got []",
        ),
        (
            {"id": "x", "prediction": None, "answers": ["yes"]},
            "preds.jsonl:2: field 'prediction': expected a string, got None",
        ),
        (
            {"prediction": "yes", "answers": ["yes"]},
            "preds.jsonl:2: field 'id': expected a string or an integer, got None",
        ),
        ({"id": "q1", "prediction": "yes", "answers": ["yes"]}, "preds.jsonl:2: field 'id': duplicate of line 1"),
        (
            {"id": "x", "prediction": "y", "answers": ["y"], "choices": "A"},
            "preds.jsonl:2: field 'choices': expected a list",
        ),
        (
            {"id": "x", "prediction": "y", "answers": ["y"], "meta": [1]},
            "preds.jsonl:2: field 'meta': expected an object",
        ),
    ],
)
def test_bad_input_names_file_line_and_field_and_writes_nothing(tmp_path, capsys, bad_line, message):
    predictions = _write_jsonl(tmp_path / "preds.jsonl", [VQA_LINES[0], bad_line])
    out = tmp_path / "scores.jsonl"
    out.write_text("previous scores\n")
    assert main(["eval", "score", "vqav2", str(predictions), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert out.read_text() == "previous scores\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["preds.jsonl", "scores.jsonl"]


def test_invalid_json_and_scoring_errors_name_the_line(tmp_path, capsys):
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(json.dumps(VQA_LINES[0]) + "\n\n{not json}\n")
    assert main(["eval", "score", "vqav2", str(predictions)]) == 2
    assert "preds.jsonl:3: not valid JSON" in capsys.readouterr().err
    mc = _write_jsonl(tmp_path / "mc.jsonl", [{"id": "a", "prediction": "B", "answers": ["E"], "choices": ["x", "y"]}])
    out = tmp_path / "mc_scores.jsonl"
    assert main(["eval", "score", "ai2d", str(mc), "--out", str(out)]) == 2
    assert "mc.jsonl:1: the answer must be an option letter A-B, got 'E'" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_task_empty_file_and_judge_options(tmp_path, capsys):
    predictions = _write_jsonl(tmp_path / "preds.jsonl", VQA_LINES)
    assert main(["eval", "score", "vqa3", str(predictions)]) == 2
    assert "unknown task 'vqa3'; valid tasks: ai2d, chartqa, vqav2" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["eval", "score", "vqav2", str(empty)]) == 2
    assert "empty.jsonl: no predictions" in capsys.readouterr().err
    assert main(["eval", "score", "vqav2", str(predictions), "--judge-model", "m"]) == 2
    assert "only applies to mathvista" in capsys.readouterr().err
    assert main(["eval", "score", "mathvista", str(predictions), "--judge-model", "m"]) == 2
    assert "needs --judge-base-url and --judge-api-key-env" in capsys.readouterr().err
