"""Reading solution files: formats, positions, shapes, names, epochs, and hostile input."""

import textwrap
import time

import numpy as np
import pytest
from conftest import EXAMPLES, position

import symback
from symback.check import solution as solution_module
from symback.check.solution import MAX_BYTES, MAX_DEPTH, Formula, Item, load_solution, parse_solution
from symback.errors import SolutionError
from symback.report.worksheet import solution_yaml

PER_SAMPLE_MODEL = """\
from symback import Model, param, samples, tanh

x = samples([[[1], [2]], [[3], [4]]])  # two samples, each a 2x1 column
w = param([[0.5, -0.25]])
y = tanh(w @ x)
loss = (y - 1) ** 2

model = Model(loss, lr=0.1, epochs=2)
"""


@pytest.fixture(scope="module")
def seed():
    return symback.load(EXAMPLES / "seed.py")


@pytest.fixture
def per_sample(tmp_path):
    path = tmp_path / "per_sample.py"
    path.write_text(PER_SAMPLE_MODEL)
    return symback.load(path)


def parse(text, model):
    return parse_solution(textwrap.dedent(text), model, file="s.yaml")


def refused(text, model, *match):
    """Parse ``text``: expect one problem containing every string in ``match`` and return it.

    A file that cannot be read at all raises; a part of a readable file that cannot be read is
    kept in ``Solution.errors`` (the checker grades the rest)."""
    try:
        sol = parse(text, model)
    except SolutionError as e:
        error = e
    else:
        assert len(sol.errors) == 1, sol.errors
        error = sol.errors[0]
    for part in match:
        assert part in str(error)
    return error


def test_one_unreadable_part_leaves_the_rest_readable(seed):
    text = textwrap.dedent("""\
        epochs:
          1:
            forward: {outt: 4.47, h: [[1, 2]], z: 1.97}
            grads: {b3: -1.53}
          7: {forward: {out: 1}}
        formulas: {w2: "h", W2: "h"}
        """)
    sol = parse(text, seed)
    assert [(i.section, i.name) for i in sol.items] == [("forward", "z"), ("grads", "b3")]
    assert [f.name for f in sol.formulas] == ["w2"]
    assert [(e.line, e.column) for e in sol.errors] == [position(text, "outt"), position(text, "[[1, 2]]"),
                                                        position(text, "7:"), position(text, "W2")]
    assert "did you mean 'out'?" in sol.errors[0].message and "(transposed?)" not in sol.errors[1].message


def test_deltas_are_a_section(seed):
    sol = parse("epochs: {1: {deltas: {out: -1.528, u1: [[0.01, 0.02, 0.03]]}}}", seed)
    assert [(i.section, i.name, i.index) for i in sol.items] == [
        ("deltas", "out", (0, 0)), ("deltas", "u1", (0, 0)), ("deltas", "u1", (0, 1)), ("deltas", "u1", (0, 2))]
    refused("epochs: {1: {deltas: {loss: 1}}}", seed, "'loss' is not a computed quantity with a δ")
    refused("epochs: {1: {deltas: {x: 1}}}", seed, "expected one of: u1, h, z, out")


# -- the worksheet's files ----------------------------------------------------------------------
def test_worksheet_answers_load_and_match_training(seed, tmp_path):
    history = seed.train()
    path = tmp_path / "answers.yaml"
    path.write_text(solution_yaml(seed, history, filled=True, model_file="seed.py"))
    sol = load_solution(path, seed)
    assert sol.file == str(path)
    # 3 epochs × (9 forward + 8 δ of out, z, h, u1 + 16 grads + 16 updated) entries, 6 formulas
    assert len(sol.items) == 3 * (9 + 8 + 16 + 16)
    assert {i.section for i in sol.items} == {"forward", "deltas", "grads", "updated"}
    assert [f.name for f in sol.formulas] == ["w1", "b1", "w2", "b2", "w3", "b3"]
    steps = {r.epoch: r for r in history.steps}
    for item in sol.items:
        exact = np.asarray(getattr(steps[item.epoch], item.section)[item.name], dtype=float)[item.index]
        assert float(item.text) == pytest.approx(exact, rel=1e-3, abs=1e-12), item
        assert item.sample is None


def test_worksheet_blank_solution_has_no_items(seed, tmp_path):
    path = tmp_path / "solution.yaml"
    path.write_text(solution_yaml(seed, seed.train(), filled=False, model_file="seed.py"))
    sol = load_solution(path, seed)
    assert sol.items == [] and sol.formulas == []


def test_per_sample_worksheet_keys(per_sample, tmp_path):
    history = per_sample.train()
    text = solution_yaml(per_sample, history, filled=True, model_file="per_sample.py")
    assert '"1.2":' in text
    sol = parse_solution(text, per_sample)
    written = sorted({(i.epoch, i.sample) for i in sol.items})
    assert written == [(r.epoch, r.sample) for r in history.steps] == [(1, 1), (1, 2), (2, 1), (2, 2)]


# -- text and positions --------------------------------------------------------------------------
def test_text_is_kept_as_written(seed):
    sol = parse("""\
        epochs:
          1:
            forward: {out: 0.0020, z: "3/10", loss: 0.1*(4.47-6)}
            grads: {b3: -1.50e+0}
        """, seed)
    assert [i.text for i in sol.items] == ["0.0020", "3/10", "0.1*(4.47-6)", "-1.50e+0"]


def test_positions_are_one_based(seed):
    text = textwrap.dedent("""\
        # a comment
        epochs:
          1:
            forward:
              h: [[0.997, -0.999, 0.883]]
            updated:
              w3:
                - [0.006]
                - ["1.459"]
        formulas:
          w2: "(out - 6) * step(z) * h"
        """)
    sol = parse_solution(text, seed)
    by_text = {i.text: i for i in sol.items}
    for written in ("0.997", "-0.999", "0.883", "0.006"):
        assert (by_text[written].line, by_text[written].column) == position(text, written)
    assert (by_text["1.459"].line, by_text["1.459"].column) == position(text, '"1.459"')
    assert by_text["1.459"] == Item(1, None, "updated", "w3", (1, 0), "1.459", 9, 12)
    assert sol.formulas == [Formula("w2", "(out - 6) * step(z) * h", *position(text, '"(out'))]


def test_items_keep_file_order(seed):
    sol = parse("""\
        epochs:
          2: {grads: {b3: 1}, forward: {out: 2}}
          1: {updated: {b2: 3}}
        """, seed)
    assert [(i.epoch, i.section, i.name) for i in sol.items] == [
        (2, "grads", "b3"), (2, "forward", "out"), (1, "updated", "b2")]


def test_null_and_empty_are_not_written(seed):
    sol = parse("""\
        student: Ada Lovelace
        notes: ~
        epochs:
          1:
            forward:
              out:
              z: ~
              loss: ""
              h: [[~, 0.5, null]]
            grads:
            updated: ~
          2:
        formulas: {w1: ~, w2: "h"}
        """, seed)
    assert [(i.name, i.index, i.text) for i in sol.items] == [("h", (0, 1), "0.5")]
    assert [f.name for f in sol.formulas] == ["w2"]


@pytest.mark.parametrize("text", ["", "# only a comment\n\n# and another\n", "~\n", "epochs:\nformulas:\n"])
def test_empty_files_have_no_items(seed, tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    sol = load_solution(path, seed)
    assert sol.items == [] and sol.formulas == []


# -- shapes ------------------------------------------------------------------------------------------
def indices(text, model):
    return [(i.name, i.index) for i in parse(text, model).items]


def test_shapes_scalar_nested_flat(seed):
    # seed: out 1×1, w1 2×3, b1 1×3 (row), w3 2×1 (column)
    assert indices("epochs: {1: {forward: {out: 4.47}}}", seed) == [("out", (0, 0))]
    assert indices("epochs: {1: {forward: {out: [4.47]}}}", seed) == [("out", (0, 0))]
    assert indices("epochs: {1: {forward: {out: [[4.47]]}}}", seed) == [("out", (0, 0))]
    assert indices("epochs: {1: {grads: {w1: [[1, 2, 3], [4, 5, 6]]}}}", seed) == [
        ("w1", (r, c)) for r in range(2) for c in range(3)]
    assert indices("epochs: {1: {grads: {b1: [1, 2, 3]}}}", seed) == [("b1", (0, c)) for c in range(3)]
    assert indices("epochs: {1: {grads: {w3: [1, 2]}}}", seed) == [("w3", (0, 0)), ("w3", (1, 0))]
    assert indices("epochs: {1: {grads: {w3: [[1], [2]]}}}", seed) == [("w3", (0, 0)), ("w3", (1, 0))]


@pytest.mark.parametrize(("value", "expected"), [
    ("w1: [[1, 2], [3, 4]]", "w1 is 2×3 (2 rows of 3), but 2×2 is written"),
    ("w1: [[1, 2, 3], [4, 5]]", "w1 is 2×3 (2 rows of 3), but 2 rows of lengths 3, 2 is written"),
    ("w1: 0.5", "w1 is 2×3 (2 rows of 3), but a single value is written"),
    ("w1: [1, 2, 3, 4, 5, 6]", "w1 is 2×3 (2 rows of 3), but a flat list of 6 is written"),
    ("b1: [1, 2]", "b1 is 1×3 (a row of 3), but a flat list of 2 is written"),
    ("b1: [[1], [2], [3]]", "b1 is 1×3 (a row of 3), but 3×1 (transposed?) is written"),
    ("w3: [[1, 2]]", "w3 is 2×1 (a column of 2), but 1×2 (transposed?) is written"),
    ("b2: [1, 2]", "b2 is 1×1 (a single value), but a flat list of 2 is written"),
    ("w3: []", "w3 is 2×1 (a column of 2), but a flat list of 0 is written"),
])
def test_wrong_shape_names_both_shapes(seed, value, expected):
    error = refused(f"epochs:\n  1:\n    grads:\n      {value}\n", seed, expected)
    assert (error.line, error.column) == (4, 11)


@pytest.mark.parametrize(("value", "expected"), [
    ("b2: true", "'true' is not a number"),
    ("w1: [[1, yes, 3], [4, 5, 6]]", "'yes' is not a number"),
    ("b2: {a: 1}", "not a mapping"),
    ("w3: [[1], 2]", "either rows"),
    ("w3: [[[1]], [2]]", "a single value, not a list"),
])
def test_bad_values(seed, value, expected):
    refused(f"epochs: {{1: {{grads: {{{value}}}}}}}", seed, expected)


# -- names ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("epoch: {}", "'epoch' is not a key of a solution file; did you mean 'epochs'?"),
    ("formula: {}", "did you mean 'formulas'?"),
    ("epochs: {1: {grad: {}}}", "'grad' is not a section; did you mean 'grads'?"),
    ("epochs: {1: {forward: {hh: 1}}}", "'hh' is not a computed quantity of the model; did you mean 'h'?"),
    ("epochs: {1: {forward: {w1: 1}}}", "expected one of: u1, h, z, out, loss"),
    ("epochs: {1: {forward: {x: 1}}}", "'x' is not a computed quantity"),
    ("epochs: {1: {grads: {w_2: 1}}}", "'w_2' is not a trainable parameter; did you mean 'w2'?"),
    ("epochs: {1: {updated: {h: 1}}}", "'h' is not a trainable parameter"),
    ("formulas: {W2: 'h'}", "'W2' is not a trainable parameter; did you mean 'w2'?"),
])
def test_unknown_names_suggest_the_closest(seed, text, expected):
    refused(text, seed, expected)


def test_unknown_name_position(seed):
    error = refused("epochs:\n  1:\n    forward:\n      outt: 4\n", seed, "did you mean 'out'?")
    assert (error.file, error.line, error.column) == ("s.yaml", 4, 7)
    assert str(error).startswith("s.yaml:4:7: ")


def test_duplicates_are_refused(seed):
    refused("epochs: {1: {forward: {out: 1, out: 2}}}", seed, "'out' is written twice")
    refused("epochs:\n  1: {}\n  01: {}\n", seed, "written twice (first on line 2)")


def test_formulas_must_be_text(seed):
    refused("formulas: {w2: [h]}", seed, "formula for w2")
    assert parse("formulas: {b2: 0}", seed).formulas == [Formula("b2", "0", 1, 16)]


# -- epochs and samples ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "expected"), [
    ("4", "epoch 4: the model trains for 3 epochs"),
    ("0", "epoch 0: the model trains for 3 epochs, counted from 1"),
    ("-1", "'-1' is not an epoch"),
    ("one", "'one' is not an epoch: write epoch keys as 1, 2, …"),
    ('"1.2"', "'1.2': this model has no per-sample data; write the epoch as 1"),
    ("1.2", "'1.2': this model has no per-sample data"),
    ("true", "'true' is not an epoch"),
    ('"١"', "'١' is not an epoch"),  # digits as in values: ASCII (an Arabic-Indic 1 is no epoch, as ١ is no value)
    ('"１"', "'１' is not an epoch"),
])
def test_epoch_keys(seed, key, expected):
    refused(f"epochs:\n  {key}: {{forward: {{out: 1}}}}\n", seed, expected)


def test_per_sample_keys(per_sample):
    sol = parse("""\
        epochs:
          "1.2": {forward: {y: 0.5}}
          1.1: {grads: {w: [1, 2]}}
          2.2: {updated: {w: [[3, 4]]}}
        """, per_sample)
    assert [(i.epoch, i.sample, i.section, i.index) for i in sol.items] == [
        (1, 2, "forward", (0, 0)), (1, 1, "grads", (0, 0)), (1, 1, "grads", (0, 1)),
        (2, 2, "updated", (0, 0)), (2, 2, "updated", (0, 1))]


@pytest.mark.parametrize(("key", "expected"), [
    ("1", 'epoch 1: this model updates once per sample; write the keys as "1.1" … "1.2"'),
    ('"1.3"', "sample 3: each epoch has 2 samples"),
    ("1.10", "sample 10: each epoch has 2 samples"),  # the plain scalar is read as written, not as 1.1
    ('"1.0"', "sample 0: each epoch has 2 samples"),
    ('"3.1"', "epoch 3: the model trains for 2 epochs"),
    ('"1.2.3"', "is not an epoch: write epoch keys as \"1.1\" … \"1.2\""),
])
def test_per_sample_keys_out_of_range(per_sample, key, expected):
    refused(f"epochs:\n  {key}: {{forward: {{y: 1}}}}\n", per_sample, expected)


# -- hostile input --------------------------------------------------------------------------------------
def quickly_refused(text_or_path, model, *match, seconds=0.5):
    start = time.perf_counter()
    with pytest.raises(SolutionError) as info:
        if isinstance(text_or_path, str):
            parse_solution(text_or_path, model, file="evil.yaml")
        else:
            load_solution(text_or_path, model)
    assert time.perf_counter() - start < seconds
    for part in match:
        assert part in str(info.value)
    return info.value


@pytest.mark.parametrize(("template", "expected"), [
    ('epochs: !!python/object/apply:os.system ["touch {marker}"]', "!!python/object/apply:os.system is not allowed"),
    ('formulas: {{w1: !!python/object/apply:os.system ["touch {marker}"]}}', "!!python/object/apply:os.system"),
    ("!!python/object/new:os.system [touch {marker}]\n", "!!python/object/new:os.system is not allowed"),
    ("epochs: !!python/name:os.system\n# {marker}", "!!python/name:os.system is not allowed"),
    ("epochs: {{1: {{forward: {{out: !foo 4.47}}}}}}\n# {marker}", "the tag !foo is not allowed"),
    ("epochs: {{1: {{forward: {{out: !!binary aGVsbG8=}}}}}}\n# {marker}", "!!binary is not allowed"),
    ("epochs: {{1: {{forward: {{out: 2001-12-14}}}}}}\n# {marker}", "!!timestamp is not allowed"),
])
def test_tags_are_refused_and_nothing_runs(seed, tmp_path, template, expected):
    marker = tmp_path / "pwned"
    error = quickly_refused(template.format(marker=marker), seed, expected)
    assert error.line == 1 and error.column is not None
    assert not marker.exists()


def test_billion_laughs(seed):
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 10)]
    error = quickly_refused("\n".join(lines) + "\n", seed, "aliases are not allowed")
    assert (error.line, error.column) == (1, 5)
    quickly_refused("epochs: {1: {forward: {out: *x}}}", seed, "aliases are not allowed")


def test_huge_file_is_refused_by_size_before_reading(seed, tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.truncate(100_000_000)  # sparse: no disk used

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(solution_module, "open", no_reading, raising=False)
    error = quickly_refused(path, seed, f"larger than {MAX_BYTES:,} bytes")
    assert error.file == str(path)


def test_just_too_big(seed, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("#" * MAX_BYTES + "\n")
    quickly_refused(path, seed, "larger than")
    quickly_refused("#" * (MAX_BYTES + 1), seed, "longer than")


def test_deep_nesting(seed):
    error = quickly_refused("epochs: " + "[" * 1000 + "]" * 1000, seed, f"nested more than {MAX_DEPTH} levels")
    assert error.line == 1
    quickly_refused("a:\n" + "".join("  " * k + f"k{k}:\n" for k in range(1, 200)), seed, "nested more than")


def test_long_scalar(seed):
    quickly_refused("epochs: {1: {forward: {out: " + "1" * 600 + "}}}", seed, "longer than 500 characters")


def test_many_nodes(seed):
    # libyaml's events composed in Python (~300k nodes a second): the cap is reached in well under a second
    quickly_refused("notes: [" + "1," * 200_001 + "1]", seed, "more than 200,000 entries", seconds=10)


def test_not_utf8(seed, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"epochs:\n  1:\n    forward: {out: caf\xe9}\n")
    error = quickly_refused(path, seed, "not UTF-8", "0xe9")
    assert (error.line, error.column) == (3, 23)


def test_unprintable_character(seed):
    text = "epochs:\n  1: {forward: {out: 1\x00}}\n"
    error = quickly_refused(text, seed, "character 0x0 is not allowed in YAML")
    assert (error.line, error.column) == position(text, "\x00")


def test_yaml_syntax_error_has_line_and_column(seed):
    error = quickly_refused("epochs:\n  1:\n    forward: {out: [1, 2}\n", seed, "YAML syntax error")
    assert error.file == "evil.yaml" and error.line == 3 and error.column is not None
    assert str(error).startswith(f"evil.yaml:3:{error.column}: ")


@pytest.mark.parametrize(("text", "expected"), [
    ("- 1\n- 2\n", "a solution file is a mapping with `epochs:` and `formulas:`, not a list"),
    ("just text\n", "not the value 'just text'"),
    ("epochs: [1, 2]\n", "epochs must be a mapping"),
    ("epochs: {1: [1]}\n", "epoch 1 must be a mapping"),
    ("? [a, b]\n: 1\n", "must be a name, not a list"),
    ("a: 1\n---\nb: 2\n", "YAML syntax error"),
    ("student: [1]\n", "student is a line of text"),
])
def test_malformed_structure(seed, text, expected):
    refused(text, seed, expected)


def test_missing_file(seed, tmp_path):
    quickly_refused(tmp_path / "nope.yaml", seed, "no such solution file")
    quickly_refused(tmp_path, seed, "not a regular file")
