"""A batch softmax classifier: 4 samples as rows, 3 classes, a bias row broadcast over the batch."""

from symback import Model, cross_entropy, data, param, relu

X = data([[0.5, -1.0], [1.5, 0.5], [-0.5, 2.0], [1.0, 1.0]])  # 4 samples x 2 features
Y = data([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]])  # one-hot targets
W1 = param([[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]])
b1 = param([[0.1, -0.1, 0.2]])  # 1x3 row, broadcast over the 4 rows
W2 = param([[0.3, -0.2, 0.1], [-0.4, 0.2, 0.5], [0.2, 0.3, -0.3]])
b2 = param([[0.0, 0.1, -0.1]])

H = relu(X @ W1 + b1)
logits = H @ W2 + b2
loss = cross_entropy(logits, Y)

model = Model(loss, lr=0.5, epochs=5, optimizer="momentum", beta=0.9, title="Batch softmax classifier")
