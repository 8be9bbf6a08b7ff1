"""A single attention head: softmax(Q Kᵀ/√d) V over 3 tokens, built from matrix products and a
row-wise softmax, trained against a target output with squared error."""

from symback import Model, data, mse, param, softmax

X = data([[1.0, 0.0], [0.5, -0.5], [0.0, 1.0]])  # 3 tokens × 2 features
Y = data([[0.2, 0.0, 0.1, -0.1], [0.0, 0.3, 0.0, 0.2], [0.1, -0.2, 0.3, 0.0]])  # the target output
Wq = param([[0.1, 0.2, -0.1, 0.3], [-0.3, 0.4, 0.2, 0.1]])  # 2 features → d = 4
Wk = param([[0.2, -0.1, 0.3, 0.1], [0.3, 0.1, -0.2, 0.2]])
Wv = param([[0.5, 0.1, -0.2, 0.3], [-0.2, 0.3, 0.1, 0.4]])

Q = X @ Wq
K = X @ Wk
V = X @ Wv
S = Q @ K.T / 2  # scores, scaled by 1/√d = 1/2
A = softmax(S, axis=1)  # each token's attention weights sum to 1 (rows)
out = A @ V
loss = mse(out, Y)

model = Model(loss, lr=0.5, epochs=3, title="A single attention head: softmax(QKᵀ/√d) V")
