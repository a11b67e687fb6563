import gzip
import json

import pandas as pd
import pytest

from leaderboard.battles import BattleDataError, load_battles

ROWS = [
    {"model_a": "m1", "model_b": "m2", "winner": "model_a", "judge": "j1", "tstamp": 1.5, "anony": True},
    {"model_a": "m2", "model_b": "m3", "winner": "tie (bothbad)", "judge": "j2", "tstamp": 2.0, "anony": False},
    {"model_a": "m3", "model_b": "m1", "winner": "tie", "judge": "j1", "tstamp": 3.0, "anony": True},
]


def _write(path, rows=ROWS):
    name = path.name
    if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        text = "".join(json.dumps(r) + "\n" for r in rows)
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows))
    elif name.endswith(".csv"):
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize("name", ["b.jsonl", "b.jsonl.gz", "b.json", "b.csv", "b.parquet"])
def test_every_format_reads_the_same_battles(tmp_path, name):
    battles = load_battles(_write(tmp_path / name))
    assert list(battles["model_a"]) == ["m1", "m2", "m3"]
    assert list(battles["winner"]) == ["model_a", "tie (bothbad)", "tie"]
    assert list(battles["anony"]) == [True, False, True]
    assert list(battles["tstamp"]) == [1.5, 2.0, 3.0]
    assert list(battles["judge"]) == ["j1", "j2", "j1"]


def test_fastchat_dump_with_extra_fields_reads(tmp_path):
    rows = [dict(r, turn=1, language="English", conv_metadata={"sum_user_tokens": 10}, dedup_tag={"sampled": True})
            for r in ROWS]
    battles = load_battles(_write(tmp_path / "clean_battle.json", rows))
    assert len(battles) == 3
    assert "conv_metadata" not in battles.columns


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(dict(ROWS[1], winner="model_c")) + "\n")
    with pytest.raises(BattleDataError, match=r"b.jsonl: line 3: field 'winner': unknown value 'model_c'"):
        load_battles(path)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("b.jsonl", {"winner": "draw"}, r"b.jsonl: line 2: field 'winner': unknown value 'draw' \(expected one of"),
        ("b.csv", {"winner": "draw"}, r"b.csv: line 3: field 'winner': unknown value 'draw'"),
        ("b.json", {"winner": "draw"}, r"b.json: record 2: field 'winner'"),
        ("b.parquet", {"winner": "draw"}, r"b.parquet: row 2: field 'winner'"),
        ("b.jsonl", {"model_a": ""}, r"line 2: field 'model_a': expected a model name, got ''"),
        ("b.jsonl", {"model_a": 7}, r"line 2: field 'model_a': expected a model name, got 7"),
        ("b.jsonl", {"anony": "maybe"}, r"line 2: field 'anony': expected true or false, got 'maybe'"),
        ("b.jsonl", {"tstamp": "noon"}, r"line 2: field 'tstamp': expected a number"),
    ],
)
def test_bad_values_name_file_location_and_field(tmp_path, name, change, message):
    rows = [ROWS[0], dict(ROWS[1], **change), ROWS[2]]
    with pytest.raises(BattleDataError, match=message):
        load_battles(_write(tmp_path / name, rows))


def test_missing_column_and_missing_field(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "winner"} for r in ROWS]
    with pytest.raises(BattleDataError, match=r"b.csv: missing column 'winner'"):
        load_battles(_write(tmp_path / "b.csv", rows))
    rows = [ROWS[0], {k: v for k, v in ROWS[1].items() if k != "model_b"}]
    with pytest.raises(BattleDataError, match=r"b.jsonl: line 2: field 'model_b': missing"):
        load_battles(_write(tmp_path / "b.jsonl", rows))


def test_empty_unreadable_and_unknown_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(BattleDataError, match=r"empty\.jsonl: the file holds no battles"):
        load_battles(tmp_path / "empty.jsonl")
    (tmp_path / "broken.jsonl").write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    with pytest.raises(BattleDataError, match=r"broken\.jsonl: line 2: not valid JSON"):
        load_battles(tmp_path / "broken.jsonl")
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(BattleDataError, match="unknown battles format"):
        load_battles(tmp_path / "b.txt")
    with pytest.raises(BattleDataError, match="no such file"):
        load_battles(tmp_path / "absent.jsonl")


def _as_json_lines(rows, end="\n"):
    return "".join(json.dumps(r) + end for r in rows)


PLAIN_FILES = {
    "every field": ROWS,
    "only the required fields": [{k: r[k] for k in ("model_a", "model_b", "winner")} for r in ROWS],
    "padded names, nulls and absent optionals": [
        dict(ROWS[0], model_a="  m1 ", judge=None, category="ocr", question_id="q1"),
        dict(ROWS[1], tstamp=None, anony=None, category=None),
        dict(ROWS[2], tstamp=float("nan")),
        {"model_a": "m3", "model_b": "m1", "winner": "tie", "tstamp": 7, "question_id": None},
    ],
    "a null where every record has the field": [
        dict(r, judge=None if i == 0 else r["judge"], category=None if i == 1 else "ocr",
             anony=None if i == 2 else r["anony"], tstamp=None if i == 0 else r["tstamp"])
        for i, r in enumerate(ROWS)
    ],
    "integer timestamps, unicode names and extra fields": [
        dict(r, tstamp=1_700_000_000 + i, model_b=r["model_b"] + "-ünï", conv_metadata={"turns": i})
        for i, r in enumerate(ROWS)
    ],
}


@pytest.mark.parametrize("case", PLAIN_FILES)
def test_plain_json_lines_take_the_fast_reader_and_read_as_the_line_reader_does(tmp_path, monkeypatch, case):
    rows = PLAIN_FILES[case]
    (tmp_path / "b.json").write_text(json.dumps(rows))
    line_reader = load_battles(tmp_path / "b.json")
    (tmp_path / "b.jsonl").write_text(_as_json_lines(rows))
    monkeypatch.setattr(json, "loads", lambda *_: pytest.fail("the plain file went through the line reader"))
    pd.testing.assert_frame_equal(load_battles(tmp_path / "b.jsonl"), line_reader, check_exact=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(ROWS[0]) + json.dumps(ROWS[1]) + "\n", r"line 1: not valid JSON \(Extra data\)"),
        (json.dumps(ROWS[0])[:-1] + ",\n" + '"x": 1}\n', r"line 1: not valid JSON"),
        ('{"model_a": "m1\tx", "model_b": "m2", "winner": "tie"}\n', r"line 1: not valid JSON \(Invalid control"),
        ("\ufeff" + _as_json_lines(ROWS), r"line 1: not valid JSON \(Unexpected UTF-8 BOM"),
        (_as_json_lines(ROWS) + json.dumps(dict(ROWS[0], anony="maybe")) + "\n", r"line 4: field 'anony'"),
        ('{"model_a": "m1", "model_b": "m2", "winner": "tie", "winner": "x"}\n', r"line 1: field 'winner': "
                                                                                 r"unknown value 'x'"),
    ],
    ids=["two objects on a line", "object over two lines", "raw tab in a string", "byte-order mark",
         "bad value after plain lines", "repeated key, last wins"],
)
def test_files_the_fast_reader_declines_get_the_line_readers_exact_errors(tmp_path, text, message):
    path = tmp_path / "b.jsonl"
    path.write_text(text)
    with pytest.raises(BattleDataError, match=message):
        load_battles(path)


def test_text_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(_as_json_lines(ROWS).encode() + b'{"model_a": "m\xff", "model_b": "m2", "winner": "tie"}\n')
    with pytest.raises(BattleDataError, match=r"b.jsonl: not UTF-8 text \(invalid start byte\)"):
        load_battles(path)


def test_broken_containers_name_the_file(tmp_path):
    (tmp_path / "plain.jsonl.gz").write_text("not gzip")
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(_as_json_lines(ROWS).encode())[:30])
    (tmp_path / "open.csv").write_text('model_a,model_b,winner\n"m1,m2,tie\n')
    for name, message in [("plain.jsonl.gz", "cannot be read .Not a gzipped file"),
                          ("cut.jsonl.gz", "cannot be read .Compressed file ended"),
                          ("open.csv", "not valid CSV .Error tokenizing data")]:
        with pytest.raises(BattleDataError, match=rf"{name}: {message}"):
            load_battles(tmp_path / name)


LOCATION = {"b.jsonl": "line 2", "b.jsonl.gz": "line 2", "b.json": "record 2", "b.csv": "line 3",
            "b.parquet": "row 2"}
BAD_VALUES = [
    ({"winner": "draw"}, "field 'winner': unknown value 'draw' (expected one of model_a, model_b, tie, "
                         "tie (bothbad))"),
    ({"model_a": ""}, "field 'model_a': expected a model name, got ''"),
    ({"model_b": "   "}, "field 'model_b': expected a model name, got '   '"),
    ({"anony": "maybe"}, "field 'anony': expected true or false, got 'maybe'"),
    ({"tstamp": "noon"}, "field 'tstamp': expected a number (seconds), got 'noon'"),
]


@pytest.mark.parametrize("name", list(LOCATION))
@pytest.mark.parametrize(("change", "message"), BAD_VALUES, ids=[m.split(":")[0] for _, m in BAD_VALUES])
def test_every_format_gives_the_same_one_line_error(tmp_path, name, change, message):
    rows = [dict(r, anony=str(r["anony"]).lower(), tstamp=str(r["tstamp"])) for r in ROWS] \
        if "anony" in change or "tstamp" in change else ROWS
    rows = [rows[0], dict(rows[1], **change), rows[2]]
    with pytest.raises(BattleDataError) as error:
        load_battles(_write(tmp_path / name, rows))
    assert str(error.value) == f"{tmp_path / name}: {LOCATION[name]}: {message}"


@pytest.mark.parametrize("name", ["b.jsonl", "b.json", "b.parquet"])
def test_wrong_kinds_of_value_are_named_in_every_format(tmp_path, name):
    rows = [ROWS[0], dict(ROWS[1], model_a=7), ROWS[2]]
    with pytest.raises(BattleDataError, match=rf"{LOCATION[name]}: field 'model_a': expected a model name, got 7"):
        load_battles(_write(tmp_path / name, rows) if name != "b.parquet" else _parquet_mixed(tmp_path, rows))


def _parquet_mixed(tmp_path, rows):
    """Parquet cannot mix types in a column: an integer model_a column, as a careless export writes it."""
    path = tmp_path / "b.parquet"
    pd.DataFrame({"model_a": [None, 7, 9], "model_b": ["m2", "m3", "m1"], "winner": ["tie"] * 3}).to_parquet(path)
    return path


def test_self_battles_are_read_not_refused(tmp_path):
    rows = [ROWS[0], dict(ROWS[1], model_b=" m2"), ROWS[2]]
    for name in ("b.jsonl", "b.csv", "b.parquet"):
        battles = load_battles(_write(tmp_path / name, rows))
        assert list(battles["model_a"] == battles["model_b"]) == [False, True, False]


def test_wildvision_dump_reads_as_it_is(tmp_path):
    from .dumps import wildvision_battles

    battles = load_battles(wildvision_battles(tmp_path / "wildvision.parquet", n=60, self_battles=5))
    assert len(battles) == 60
    assert set(battles.columns) == {"model_a", "model_b", "winner", "judge", "question_id", "language", "tstamp",
                                    "anony"}
    assert (battles["model_a"] == battles["model_b"]).sum() == 5
    assert battles["tstamp"].dtype == float and battles["language"].eq("English").all()


@pytest.mark.parametrize("name", ["clean_battle.json", "clean_battle.jsonl", "clean_battle.parquet"])
def test_chatbot_arena_dump_gives_style_counts_and_tags(tmp_path, name, monkeypatch):
    from .dumps import chatbot_arena_battles, write_records

    records = chatbot_arena_battles(40)
    path = tmp_path / name
    if name.endswith(".parquet"):
        pd.DataFrame(records).to_parquet(path)
    else:
        write_records(records, path)
    if name.endswith(".jsonl"):  # plainly valid: Arrow reads it, not the line reader
        monkeypatch.setattr(json, "loads", lambda *_: pytest.fail("the plain file went through the line reader"))
    battles = load_battles(path)
    first = records[0]["conv_metadata"]
    assert battles["style_tokens_a"][0] == first["sum_assistant_a_tokens"]
    assert battles["style_headers_b"][0] == sum(first["header_count_b"].values())
    assert battles["style_lists_a"][0] == sum(first["list_count_a"].values())
    assert battles["style_bold_b"][0] == sum(first["bold_count_b"].values())
    assert "style_points_a" not in battles.columns
    assert battles["tags"][0] == "criteria_v0.1.domain_knowledge,criteria_v0.1.creativity,criteria_v0.1.real_world," \
                                 "if_v0.1.if,math_v0.1.math,creative_writing_v0.1.creative_writing"
    assert battles["tags"][1] == "criteria_v0.1.specificity,criteria_v0.1.domain_knowledge,criteria_v0.1.real_world"


def test_bad_style_counts_name_the_nested_field(tmp_path):
    rows = [dict(r, conv_metadata={"sum_assistant_a_tokens": 3, "sum_assistant_b_tokens": 4}) for r in ROWS]
    rows[1]["conv_metadata"] = {"sum_assistant_a_tokens": "many", "sum_assistant_b_tokens": 4}
    with pytest.raises(BattleDataError, match=r"line 2: field 'conv_metadata.sum_assistant_a_tokens': expected a "
                                              r"count or an object of counts, got 'many'"):
        load_battles(_write(tmp_path / "b.jsonl", rows))
    rows[1]["conv_metadata"] = {"sum_assistant_a_tokens": -2, "sum_assistant_b_tokens": 4}
    with pytest.raises(BattleDataError, match=r"row 2: field 'conv_metadata.sum_assistant_a_tokens': expected a "
                                              r"count, got -2"):
        load_battles(_write(tmp_path / "b.parquet", rows))


def test_both_bad_spelling_reads_as_fastchats(tmp_path):
    rows = [ROWS[0], dict(ROWS[1], winner="both_bad"), ROWS[2]]
    assert load_battles(_write(tmp_path / "b.parquet", rows))["winner"][1] == "tie (bothbad)"


def test_csv_cells_hold_nested_objects_as_json_text(tmp_path):
    meta = {"sum_assistant_a_tokens": 12, "sum_assistant_b_tokens": 30, "bold_count_a": {"**": 2, "__": 1}}
    rows = [dict(r, conv_metadata=json.dumps(meta), category_tag=json.dumps({"math_v0.1": {"math": True}}))
            for r in ROWS]
    battles = load_battles(_write(tmp_path / "b.csv", rows))
    assert battles["style_tokens_b"].tolist() == [30.0] * 3 and battles["style_bold_a"].tolist() == [3.0] * 3
    assert battles["tags"].tolist() == ["math_v0.1.math"] * 3
    rows[1]["conv_metadata"] = "{not json"
    with pytest.raises(BattleDataError, match=r"b.csv: line 3: field 'conv_metadata': not valid JSON"):
        load_battles(_write(tmp_path / "b.csv", rows))


@pytest.mark.parametrize("name", ["b.jsonl", "b.json", "b.csv", "b.parquet"])
def test_only_the_columns_asked_for_are_read_and_checked(tmp_path, name):
    """A fit reads the fields it uses; a bad value elsewhere is read past like an unknown column."""
    bad = {"tstamp": "yesterday"} | ({"judge": ["not", "text"]} if name.endswith(("l", "json")) else {})
    rows = [{**row, "tstamp": str(row["tstamp"])} for row in ROWS]  # one column type, as Parquet needs
    path = _write(tmp_path / name, [rows[0], rows[1] | bad, rows[2]])
    battles = load_battles(path, ["anony"])
    assert list(battles.columns) == ["model_a", "model_b", "winner", "anony"]
    assert list(battles["anony"]) == [True, False, True]
    with pytest.raises(BattleDataError, match=r"(line [23]|record 2|row 2): field '(judge|tstamp)'"):
        load_battles(path)
    with pytest.raises(ValueError, match="unknown battle columns colour"):
        load_battles(path, ["anony", "colour"])


def test_model_columns_share_one_sorted_list_of_models(tmp_path):
    rows = [dict(ROWS[0], model_a="zeta ", model_b="alpha"), dict(ROWS[1], model_a="mu", model_b="zeta"), ROWS[2]]
    battles = load_battles(_write(tmp_path / "b.parquet", rows))
    categories = list(battles["model_a"].cat.categories)
    assert categories == list(battles["model_b"].cat.categories) == ["alpha", "m1", "m3", "mu", "zeta"]
    assert list(battles["model_a"]) == ["zeta", "mu", "m3"] and list(battles["model_b"]) == ["alpha", "zeta", "m1"]
    assert list(battles["model_a"] == battles["model_b"]) == [False, False, False]
    assert list(battles["winner"].cat.categories) == ["model_a", "tie", "tie (bothbad)"]
