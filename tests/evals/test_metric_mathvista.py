"""MathVista's official scoring (lupantech/MathVista evaluation/extract_answer.py and calculate_score.py), the
Molmo release's variant, and the cached MathVista judge."""

import contextlib
import hashlib
import json

import pytest

from evals.metrics.judge import ChatCompletionsJudge
from evals.metrics.mathvista import extract_answer, normalize_extracted_answer
from evals.scoring import score_item
from tests.evals.fake_api import FakeAPI

OPTIONS = ["blue circle", "red triangle", "green square"]
MC = {"question_type": "multi_choice", "answer_type": "text", "answer": "green square", "query": "q"}


@pytest.mark.parametrize(
    ("response", "answer_type", "expected"),
    [
        ("", "integer", ""),
        ("12", "integer", "12"),
        (" 12 ", "integer", "12"),  # int() reads surrounding spaces
        ("12.0", "integer", "12.0"),  # not an int: no judge, so the response itself
        ("3.5", "float", "3.5"),
        ("1e3", "float", "1000.0"),
        ('The answer is "7".', "integer", "7"),  # the official quick-extraction rule
        ("The answer is 7", "integer", "The answer is 7"),
    ],
)
def test_extraction_without_a_judge(response, answer_type, expected):
    assert extract_answer(response, choices=None, answer_type=answer_type, query="q") == expected


@pytest.mark.parametrize(
    ("extraction", "answer_type", "precision", "expected"),
    [
        ("12", "integer", 0, "12"),
        ("12.0", "integer", 0, "12"),
        ("12.7", "integer", 0, "12"),  # int(float(x)) truncates, as the official code
        ("3.14159", "float", 2, "3.14"),
        ("2.25", "float", 1, "2.2"),  # Python round
        ("inf", "integer", 0, None),
        ("The answer is 12.", "integer", 0, None),
        ("[1, 2, 3]", "list", 0, "[1, 2, 3]"),
    ],
)
def test_normalize_free_form(extraction, answer_type, precision, expected):
    normalized = normalize_extracted_answer(extraction, choices=None, answer_type=answer_type, precision=precision)
    assert normalized == expected


@pytest.mark.parametrize(
    ("extraction", "expected"),
    [
        ("green square", "green square"),
        ("C", "green square"),
        ("(B) red triangle", "red triangle"),
        ("(b)", "red triangle"),
        ("gren squre", "green square"),  # the nearest option
        ("", "blue circle"),  # nothing extracted: the nearest to "" is the shortest option (first of equals)
    ],
)
def test_normalize_choice(extraction, expected):
    assert normalize_extracted_answer(extraction, choices=OPTIONS, answer_type="text", precision=0) == expected


def test_scoring_through_the_registry():
    assert score_item("mathvista", "C", ["C"], OPTIONS, MC).score == 1.0
    assert score_item("mathvista", "green square\n", ["C"], OPTIONS, MC).score == 1.0  # stripped first
    assert score_item("mathvista", "B", ["C"], OPTIONS, MC).score == 0.0
    assert score_item("mathvista", "C", ["C"], OPTIONS, {"answer_type": "text"}).score == 1.0  # answer from choices
    floats = {"answer_type": "float", "precision": 1.0, "answer": "7.4"}
    assert score_item("mathvista", "7.43", ["7.4"], meta=floats).score == 1.0
    assert score_item("mathvista", "7.5", ["7.4"], meta=floats).score == 0.0
    assert score_item("mathvista", "7.40", ["7.4"], meta=floats).parsed == "7.4"
    unparsed = score_item("mathvista", "The length is 7.43 cm", ["7.4"], meta=floats)
    assert (unparsed.score, unparsed.parsed) == (0.0, None)  # GPT's step, without a judge


def test_the_molmo_profile_is_the_release_offline_path():
    molmo = {"profile": "molmo"}
    # select_mc_option over the letters, after the clean-up; then the "A:" letter pattern
    assert score_item("mathvista", "Answer: C", ["C"], OPTIONS, MC, **molmo).score == 1.0
    assert score_item("mathvista", "c", ["C"], OPTIONS, MC, **molmo).score == 1.0
    integer = {"answer_type": "integer", "answer": "12"}
    assert score_item("mathvista", "12", ["12"], meta=integer, **molmo).score == 1.0
    assert score_item("mathvista", "12.0", ["12"], meta=integer, **molmo).score == 1.0  # normalised to "12"


# --- the judge, against a real HTTP server ------------------------------------------------------------------


@contextlib.contextmanager
def _completions(*replies):
    """A chat-completions stand-in answering with `replies` (status, body) in turn, the last one repeating."""
    fake = FakeAPI(lambda path, body: replies[-1][1])
    fake.script += [(status, {}, body) for status, body in replies[:-1]]
    if replies[-1][0] != 200:
        fake.script.append((replies[-1][0], {}, replies[-1][1]))
    fake.url += "/v1"
    try:
        yield fake
    finally:
        fake.close()


def _answer(text):
    return 200, {
        "choices": [{"message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 90, "completion_tokens": 1},
    }


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("MOLMO_ARENA_TEST_JUDGE_KEY", "sk-test-secret")
    return "MOLMO_ARENA_TEST_JUDGE_KEY"


def _judge(server, key, tmp_path):
    return ChatCompletionsJudge(server.url, "tiny-judge", key, tmp_path / "cache", backoff_s=0.0)


def test_judge_extracts_once_then_serves_from_the_cache(tmp_path, key):
    meta = {"answer_type": "integer", "query": "Question: How many cubes are there?"}
    with _completions(_answer(" 42 ")) as server:
        judge = _judge(server, key, tmp_path)
        first = score_item("mathvista", "I think it's forty-two cubes", ["42"], meta=meta, judge=judge)
        second = score_item("mathvista", "I think it's forty-two cubes", ["42"], meta=meta, judge=judge)
    assert (first.score, first.parsed) == (1.0, "42")
    assert second == first
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-secret"
    assert request["body"]["model"] == "tiny-judge"
    assert request["body"]["temperature"] == 0
    prompt = request["body"]["messages"][0]["content"]
    assert prompt.endswith(
        "Question: How many cubes are there?\n\nModel response: I think it's forty-two cubes\n\nExtracted answer: "
    )
    assert (judge.requests, judge.cache_hits, judge.prompt_tokens) == (1, 1, 90)
    cached = list((tmp_path / "cache").iterdir())
    assert [path.name for path in cached] == [hashlib.sha256(("tiny-judge" + prompt).encode()).hexdigest() + ".json"]
    assert "sk-test-secret" not in cached[0].read_text()
    assert json.loads(cached[0].read_text())["answer"] == "42"


def test_judge_is_skipped_when_the_response_already_is_the_answer(tmp_path, key):
    with _completions(_answer("0")) as server:
        judge = _judge(server, key, tmp_path)
        assert (
            score_item("mathvista", "42", ["42"], meta={"answer_type": "integer", "query": "q"}, judge=judge).score
            == 1.0
        )
        assert score_item("mathvista", "red triangle", ["B"], OPTIONS, {"query": "q"}, judge=judge).score == 1.0
    assert server.requests == []


def test_judge_retries_server_errors_but_not_client_errors(tmp_path, key):
    with _completions((503, {"error": "busy"}), _answer("7")) as server:
        judge = _judge(server, key, tmp_path)
        assert judge.extract("q", "seven-ish") == "7"
    assert len(server.requests) == 2
    with _completions((401, {"error": "bad key"})) as server:
        judge = _judge(server, key, tmp_path)
        with pytest.raises(OSError, match="401"):
            judge.extract("q", "eight-ish")
    assert len(server.requests) == 1


def test_judge_needs_its_key_variable_and_the_query(tmp_path, monkeypatch):
    monkeypatch.delenv("MOLMO_ARENA_TEST_MISSING_KEY", raising=False)
    judge = ChatCompletionsJudge("http://127.0.0.1:9", "m", "MOLMO_ARENA_TEST_MISSING_KEY", tmp_path)
    with pytest.raises(ValueError, match="MOLMO_ARENA_TEST_MISSING_KEY"):
        judge.extract("q", "r")
    with pytest.raises(ValueError, match="query"):
        score_item("mathvista", "forty", ["40"], meta={"answer_type": "integer"}, judge=judge)
    with pytest.raises(ValueError, match="only applies to mathvista"):
        score_item("vqav2", "forty", ["40"], judge=judge)
