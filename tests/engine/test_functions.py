"""Model functions as a model file uses them: warnings about how they are called (issue 11)."""



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
