"""Model functions as a model file uses them: warnings about how they are called (issue 11), and the
errors for the new operations' bad arguments (issue 14): each a `ModelError` or `ShapeError` whose
message names the function and the problem, never a traceback from deep inside."""

import pytest

import symback as sb
from symback.errors import ModelError, ShapeError


def test_cross_entropy_given_probabilities_warns_with_the_line(tmp_path):
    # issue 11's case double-softmax: softmax, then cross_entropy (which applies softmax itself)
    import symback

    path = tmp_path / "double.py"
    path.write_text("from symback import Model, param, data, softmax, cross_entropy, sigmoid\n"
                    "X = data([[0.5, -1.0], [1.5, 0.5]])\nY = data([[1, 0, 0], [0, 1, 0]])\n"
                    "W = param([[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]])\n"
                    "P = softmax(X @ W, axis=1)\nloss = cross_entropy(P, Y)\nmodel = Model(loss)\n")
    model = symback.load(path)
    assert model.warnings == ["line 6: cross_entropy takes logits and applies softmax itself; P is already a "
                              "softmax, so softmax is applied twice — pass the logits (the softmax's argument)"]
    path.write_text(path.read_text().replace("loss = cross_entropy(P, Y)", "loss = cross_entropy(X @ W, Y)"))
    assert symback.load(path).warnings == []


X = sb.data([[1, 2, 3], [4, 5, 6], [7, 8, 9]], name="X")
K = sb.param([[1, 0], [0, 1]], name="K")
MASK = [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
ONES, ZEROS = sb.param([[1, 1, 1]], name="gamma"), sb.param([[0, 0, 0]], name="beta")

BAD_CALLS = {
    "kernel larger than the image": (lambda: sb.conv2d(X, sb.param([[1] * 4] * 4, name="big")), ShapeError,
                                     "conv2d: the 4×4 kernel big is larger than the 3×3 image X padded by 0, 0"),
    "kernel wider than the padded image": (lambda: sb.conv2d(X, sb.param([[1] * 6], name="wide"), padding=1),
                                           ShapeError, "the 1×6 kernel wide is larger than the 3×3 image X padded by 1, 1"),
    "stride 0": (lambda: sb.conv2d(X, K, stride=0), ModelError, "conv2d's stride must be a whole number ≥ 1 .*not 0"),
    "stride pair with a 0": (lambda: sb.conv2d(X, K, stride=(1, 0)), ModelError, r"stride .*not \(1, 0\)"),
    "padding -1": (lambda: sb.conv2d(X, K, padding=-1), ModelError, "conv2d's padding must be a whole number ≥ 0 .*not -1"),
    "stride 1.5": (lambda: sb.conv2d(X, K, stride=1.5), ModelError, "conv2d's stride must be a whole number .*not 1.5"),
    "stride 2.0": (lambda: sb.conv2d(X, K, stride=2.0), ModelError, "conv2d's stride must be a whole number .*not 2.0"),
    "stride True": (lambda: sb.conv2d(X, K, stride=True), ModelError, "conv2d's stride must be a whole number .*True"),
    "stride of three": (lambda: sb.conv2d(X, K, stride=(1, 1, 1)), ModelError, "or a pair of them"),
    "two images, one kernel": (lambda: sb.conv2d([X, X], K), ModelError,
                               r"conv2d: 2 input channel\(s\) but 1 kernel\(s\) for them"),
    "one image, two kernels": (lambda: sb.conv2d(X, [K, K]), ModelError, r"1 input channel\(s\) but 2 kernel\(s\)"),
    "a short kernel bank": (lambda: sb.conv2d([X, X], [[K, K], [K]]), ModelError,
                            r"2 input channel\(s\) but 1 kernel\(s\)"),
    "no channels": (lambda: sb.conv2d([], K), ModelError, "conv2d's input needs 1 to 64 channels, not 0"),
    "65 channels": (lambda: sb.flatten([K] * 65), ModelError, "flatten needs 1 to 64 channels, not 65"),
    "pool window larger": (lambda: sb.max_pool2d(X, 4), ShapeError,
                           "max_pool2d: the 4×4 window is larger than the 3×3 matrix X"),
    "pool window wider": (lambda: sb.avg_pool2d(X, (2, 4)), ShapeError, "avg_pool2d: the 2×4 window is larger"),
    "pool size 0": (lambda: sb.max_pool2d(X, 0), ModelError, "max_pool2d's size must be a whole number ≥ 1"),
    "pool stride 0": (lambda: sb.avg_pool2d(X, 2, stride=0), ModelError, "avg_pool2d's stride must be a whole number ≥ 1"),
    "gamma too short": (lambda: sb.batch_norm(X, sb.param([[1, 1]], name="g"), ZEROS), ShapeError,
                        "batch_norm's gamma g is 1×2; it must be 1×3, one per column of X"),
    "gamma a column": (lambda: sb.batch_norm(X, sb.param([[1], [1], [1]], name="g"), ZEROS), ShapeError,
                       "batch_norm's gamma g is 3×1; it must be 1×3"),
    "beta a column": (lambda: sb.layer_norm(X, ONES, sb.param([[0], [0], [0]], name="b")), ShapeError,
                      "layer_norm's beta b is 3×1; it must be 1×3"),
    "batch of one row": (lambda: sb.batch_norm(sb.param([[1, 2, 3]], name="row"), ONES, ZEROS), ModelError,
                         r"batch_norm of row needs a batch of at least 2 rows \(one row's variance is 0\)"),
    "eps 0": (lambda: sb.batch_norm(X, ONES, ZEROS, eps=0), ModelError, "batch_norm's eps must be positive, not 0"),
    "eps negative": (lambda: sb.layer_norm(X, ONES, ZEROS, eps=-1), ModelError, "layer_norm's eps must be positive"),
    "mask with a 0.5": (lambda: sb.dropout(X, sb.data([[1, 0.5, 1], [1, 1, 1], [0, 0, 0]], name="M")), ModelError,
                        "dropout's mask M must hold only 0 and 1"),
    "mask with a 2": (lambda: sb.dropout(X, sb.data([[1, 2, 1], [1, 1, 1], [0, 0, 0]], name="M")), ModelError,
                      "dropout's mask M must hold only 0 and 1"),
    "mask a sample with a 0.5": (lambda: sb.dropout(sb.param([[1, 2]]), sb.samples([[[1, 0]], [[0.5, 1]]], name="M")),
                                 ModelError, "dropout's mask M must hold only 0 and 1"),
    "mask of another shape": (lambda: sb.dropout(X, sb.data([[1, 0], [0, 1]], name="M")), ModelError,
                              "shape mismatch in dropout: X is 3×3 but M is 2×2"),
    "mask a param": (lambda: sb.dropout(X, sb.param(MASK, name="M")), ModelError,
                     "dropout's mask M must be data"),
    "mask computed": (lambda: sb.dropout(X, sb.data(MASK) * sb.data(MASK)), ModelError, "dropout's mask .* must be data"),
    "p 1": (lambda: sb.dropout(X, MASK, p=1), ModelError, r"dropout's p must be in \[0, 1\), not 1"),
    "p negative": (lambda: sb.dropout(X, MASK, p=-0.1), ModelError, r"dropout's p must be in \[0, 1\), not -1/10"),
    "huber delta 0": (lambda: sb.huber(X, X, delta=0), ModelError, "huber's delta must be positive, not 0"),
    "huber delta negative": (lambda: sb.huber(X, X, delta=-1), ModelError, "huber's delta must be positive, not -1"),
    "huber of two shapes": (lambda: sb.huber(X, sb.data([[1, 2]], name="T")), ModelError,
                            "shape mismatch in huber: X is 3×3 but T is 1×2"),
    "mae of two shapes": (lambda: sb.mae(X, sb.data([[1, 2]], name="T")), ModelError, "shape mismatch in mae"),
    "hinge target 0": (lambda: sb.hinge(sb.param([[1], [2]]), sb.data([[1], [0]], name="Y")), ModelError,
                       "hinge targets Y must be −1 or \\+1"),
    "hinge target 2": (lambda: sb.hinge(sb.param([[1], [2]]), sb.data([[1], [2]], name="Y")), ModelError,
                       "hinge targets Y must be −1 or \\+1"),
    "hinge target in a later sample": (lambda: sb.hinge(sb.param([[1], [2]]), sb.samples([[[1], [-1]], [[1], [0]]],
                                                                                       name="Y")),
                                       ModelError, "hinge targets Y must be −1 or \\+1"),
    "hinge targets a param": (lambda: sb.hinge(sb.param([[1], [2]]), sb.param([[1], [-1]])), ModelError,
                              "hinge targets must be data"),
    "l2_penalty of nothing": (lambda: sb.l2_penalty(weight_decay=0.1), ModelError, "l2_penalty needs one or more tensors"),
    "l2_penalty negative": (lambda: sb.l2_penalty(K, weight_decay=-0.1), ModelError, "weight_decay ≥ 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_a_bad_argument_is_a_clear_error(case):
    call, error, message = BAD_CALLS[case]
    with pytest.raises(error, match=message):
        call()


def test_the_error_names_the_model_file_line(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("from symback import Model, conv2d, data, param, sum\n"
                    "X = data([[1, 2], [3, 4]])\nK = param([[1, 0, 0], [0, 1, 0], [0, 0, 1]])\n"
                    "Z = conv2d(X, K)\nmodel = Model(sum(Z))\n")
    with pytest.raises(ShapeError, match=r"bad.py:4: conv2d: the 3×3 kernel K is larger than the 2×2 image X"):
        sb.load(path)


# -- gaps found in review (issue 14), each closed ---------------------------------------------------------


def test_input_channels_of_two_shapes_are_refused():
    with pytest.raises((ModelError, ShapeError), match="channel"):
        sb.conv2d([X, sb.data([[1, 2], [3, 4]], name="Y")], [K, K])


def test_kernels_of_two_shapes_are_refused_by_conv2d():
    with pytest.raises((ModelError, ShapeError), match="kernel"):
        sb.conv2d([X, X], [K, sb.param([[1, 0, 0], [0, 1, 0], [0, 0, 1]], name="K1")])


def _one_matrix_or_refused(call, shape):
    """A nested list of numbers is one matrix everywhere else (matmul, abs, batch_norm): here it must be
    too, or be refused with a message that says so — not read as one channel per row."""
    try:
        result = call()
    except (ModelError, ShapeError) as e:
        assert "channel" not in str(e), str(e)
    else:
        assert isinstance(result, sb.Tensor) and result.shape == shape


def test_a_literal_kernel_is_one_kernel():
    _one_matrix_or_refused(lambda: sb.conv2d(X, [[1, 0], [0, 1]]), (2, 2))


def test_a_literal_image_is_one_image():
    _one_matrix_or_refused(lambda: sb.max_pool2d([[1, 2], [3, 4]], 1), (2, 2))


def test_a_computed_mask_is_called_computed():
    with pytest.raises(ModelError) as e:
        sb.dropout(X, sb.data(MASK) * sb.data(MASK))
    assert "a op" not in str(e.value)


@pytest.mark.parametrize("call", [lambda: sb.batch_norm(X, ONES, ZEROS, eps=None),
                                  lambda: sb.huber(X, X, delta="a"),
                                  lambda: sb.dropout(X, MASK, p=None)])
def test_a_setting_that_is_not_a_number_is_named(call):
    with pytest.raises(ModelError, match="eps|delta|p "):
        call()
