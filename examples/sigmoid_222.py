"""A 2-2-2 sigmoid network with squared error (the classic worked backprop example's shape)."""

from symback import Model, data, param, sigmoid, sum

x = data([0.05, 0.10])  # 2x1 input column
y = data([0.01, 0.99])  # 2x1 target column
w1 = param([[0.15, 0.20], [0.25, 0.30]])
b1 = param([0.35, 0.35])
w2 = param([[0.40, 0.45], [0.50, 0.55]])
b2 = param([0.60, 0.60])

h = sigmoid(w1 @ x + b1)
out = sigmoid(w2 @ h + b2)
loss = sum((out - y) ** 2) / 2

model = Model(loss, lr=0.5, epochs=3, title="A 2-2-2 sigmoid network with squared error")
