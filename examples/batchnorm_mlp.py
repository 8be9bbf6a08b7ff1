"""A batch-normalised MLP: 4 samples as rows, batch norm after the first layer, relu, dropout with a
fixed mask, and a softmax classifier — the three-term batch-norm gradient, step by step."""

from symback import Model, batch_norm, cross_entropy, data, dropout, param, relu

X = data([[0.5, -1.0], [1.5, 0.5], [-0.5, 2.0], [1.0, 1.0]])  # 4 samples × 2 features
Y = data([[1, 0], [0, 1], [0, 1], [1, 0]])  # one-hot targets, 2 classes
W1 = param([[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]])
gamma = param([[1.0, 1.0, 1.0]])  # batch norm's scale, one per column
beta = param([[0.0, 0.0, 0.0]])  # and shift
mask = data([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]])  # the dropout mask, fixed so the numbers repeat
W2 = param([[0.3, -0.2], [-0.4, 0.2], [0.2, 0.3]])
b2 = param([[0.0, 0.1]])

Z = X @ W1
N = batch_norm(Z, gamma, beta)  # each column normalised over the batch (training mode), eps = 1e-5
H = dropout(relu(N), mask, p=0.25)  # kept units scaled by 1/(1 − p)
logits = H @ W2 + b2
loss = cross_entropy(logits, Y)

model = Model(loss, lr=0.1, epochs=3, title="A batch-normalised MLP with dropout")
