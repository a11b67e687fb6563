"""MMMU and MathVista rule-based scoring (harness.md §5.4-5.5) and the cached MathVista judge."""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evals.metrics import score_item
from evals.metrics.math import (
    ChatCompletionsJudge,
    mmmu_open_correct,
    normalize_mathvista_answer,
    parse_mmmu_choice,
    parse_mmmu_open,
)

OPTIONS = ["blue circle", "red triangle", "green square"]

# --- MMMU multiple choice ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("(B)", "B"),
        ("B", "B"),
        ("B.", "B"),  # the edge period is stripped, then " B " matches
        ("The answer is B because of the angle", "B"),
        ("A. blue circle", "A"),  # lmms-eval's "X." step
        ("(A) is wrong and (C) is right", "C"),  # several candidates: the last one
        ("I believe the correct one is the red triangle shape", "B"),  # option text, more than 5 words
    ],
)
def test_mmmu_choice_parser(response, letter):
    assert parse_mmmu_choice(response, OPTIONS) == letter


def test_mmmu_choice_parser_never_guesses():
    assert parse_mmmu_choice("I am not sure", OPTIONS) is None
    assert parse_mmmu_choice("red triangle", OPTIONS) is None  # option text only counts past 5 words
    assert parse_mmmu_choice("D", OPTIONS) is None  # not an option letter


def test_mmmu_multiple_choice_through_the_registry():
    assert score_item("mmmu", "The answer is (B).", ["B"], OPTIONS).score == 1.0
    unparsed = score_item("mmmu", "no idea", ["B"], OPTIONS)
    assert (unparsed.score, unparsed.parsed) == (0.0, None)


# --- MMMU open questions ------------------------------------------------------------------------------------


def test_mmmu_open_numbers():
    assert 5.0 in parse_mmmu_open("The answer is 5.0 m")
    assert mmmu_open_correct(parse_mmmu_open("The answer is 5.0 m"), ["5"])
    assert mmmu_open_correct(parse_mmmu_open("so the total is 1,000"), ["1000"])
    assert mmmu_open_correct(parse_mmmu_open("x = 2.004"), ["2"])  # numbers compare rounded to 2 decimals
    assert not mmmu_open_correct(parse_mmmu_open("the result is 7"), ["8"])


def test_mmmu_open_text_is_a_substring_match():
    assert mmmu_open_correct(parse_mmmu_open("The capital is Paris"), ["Paris"])
    assert mmmu_open_correct(parse_mmmu_open("the answer is c"), ["c"])
    assert not mmmu_open_correct(parse_mmmu_open("abc"), ["c"])  # one character only matches as a word


def test_mmmu_open_keeps_the_official_sentence_split():
    # The split on ". " before a capital runs after lower-casing, so it never fires: one sentence, whose last
    # "is " gives 4. A newline does split.
    assert not mmmu_open_correct(parse_mmmu_open("It is 3. It is 4"), ["3"])
    assert mmmu_open_correct(parse_mmmu_open("It is 3. It is 4"), ["4"])
    assert mmmu_open_correct(parse_mmmu_open("x is 3\ny is 4"), ["3"])


def test_mmmu_open_through_the_registry():
    assert score_item("mmmu", "Answer: 42", ["42"]).score == 1.0
    assert score_item("mmmu", "  ", ["42"]).parsed is None


# --- MathVista ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extraction", "answer_type", "precision", "expected"),
    [
        ("12", "integer", 0, "12"),
        ("The answer is 12.", "integer", 0, "12"),
        ("12.0", "integer", 0, "12"),
        ("about 1,250 people", "integer", 0, "1250"),
        ("pages 3-4", "integer", 0, "4"),
        ("x = -4", "integer", 0, "-4"),
        ("-.5", "float", 1, "-0.5"),
        ("3.14159", "float", 2, "3.14"),
        ("x = 2.25", "float", 1, "2.2"),  # Python round, as the official code
        ("[1, 2, 3]", "list", 0, "[1, 2, 3]"),
        ("They are [1.5, 2]", "list", 0, "[1.5, 2]"),
        ("  Paris ", "text", 0, "Paris"),
        ("no number here", "integer", 0, None),
        ("", "text", 0, None),
    ],
)
def test_normalize_mathvista_free_form(extraction, answer_type, precision, expected):
    assert (
        normalize_mathvista_answer(extraction, choices=None, answer_type=answer_type, precision=precision) == expected
    )


@pytest.mark.parametrize(
    ("extraction", "expected"),
    [
        ("green square", "green square"),
        ("C", "green square"),
        ("(B) red triangle", "red triangle"),
        ("gren squre", "green square"),
    ],
)
def test_normalize_mathvista_choice(extraction, expected):
    assert normalize_mathvista_answer(extraction, choices=OPTIONS, answer_type="text", precision=0) == expected


def test_mathvista_scoring_rule_based():
    meta = {"question_type": "multi_choice", "answer_type": "text"}
    assert score_item("mathvista", "C", ["C"], OPTIONS, meta).score == 1.0  # gold letter
    assert score_item("mathvista", "green square", ["green square"], OPTIONS, meta).score == 1.0  # gold text
    assert score_item("mathvista", "B", ["C"], OPTIONS, meta).score == 0.0
    floats = {"answer_type": "float", "precision": 1.0}
    assert score_item("mathvista", "The length is 7.43 cm", ["7.4"], meta=floats).score == 1.0
    assert score_item("mathvista", "7.5", ["7.4"], meta=floats).score == 0.0
    nan_precision = {"answer_type": "float", "precision": float("nan")}  # inferred from the answer
    assert score_item("mathvista", "3.14159", ["3.14"], meta=nan_precision).parsed == "3.14"
    unparsed = score_item("mathvista", "I cannot tell", ["3"], meta={"answer_type": "integer"})
    assert (unparsed.score, unparsed.parsed) == (0.0, None)


# --- the judge, against a real HTTP server ------------------------------------------------------------------


class _FakeCompletions:
    """A tiny OpenAI-compatible chat-completions server on 127.0.0.1 that records what it receives."""

    def __init__(self, replies):
        self.replies = list(replies)  # (status, body) per request; the last one repeats
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                status, reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


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
    with _FakeCompletions([_answer(" 42 ")]) as server:
        judge = _judge(server, key, tmp_path)
        first = score_item("mathvista", "I think it's forty-two cubes", ["42"], meta=meta, judge=judge)
        second = score_item("mathvista", "I think it's forty-two cubes", ["42"], meta=meta, judge=judge)
    assert (first.score, first.parsed) == (1.0, "42")
    assert second == first
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test-secret"
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
    with _FakeCompletions([_answer("0")]) as server:
        judge = _judge(server, key, tmp_path)
        assert (
            score_item("mathvista", "42", ["42"], meta={"answer_type": "integer", "query": "q"}, judge=judge).score
            == 1.0
        )
        assert score_item("mathvista", "red triangle", ["B"], OPTIONS, {"query": "q"}, judge=judge).score == 1.0
    assert server.requests == []


def test_judge_retries_server_errors_but_not_client_errors(tmp_path, key):
    with _FakeCompletions([(503, {"error": "busy"}), _answer("7")]) as server:
        judge = _judge(server, key, tmp_path)
        assert judge.extract("q", "seven-ish") == "7"
    assert len(server.requests) == 2
    with _FakeCompletions([(401, {"error": "bad key"})]) as server:
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
