"""An Elman RNN unrolled over 3 time steps by a loop: the same weights at every step, an output and
a squared error at every step, and backpropagation through time — each shared weight's gradient the
sum of its contributions from the three steps."""

from symback import Model, data, param, sum, tanh

xs = [data([[0.5, -0.2]]), data([[0.1, 0.4]]), data([[-0.3, 0.2]])]  # inputs x1, x2, x3 (rows)
ys = [data([[0.3]]), data([[-0.1]]), data([[0.2]])]  # targets y1, y2, y3
Wx = param([[0.2, -0.1], [0.4, 0.3]])  # input → hidden
Wh = param([[0.1, 0.2], [-0.3, 0.1]])  # hidden → hidden, shared over time
b = param([[0.0, 0.1]])
Wy = param([[0.5], [-0.4]])  # hidden → output

h = data([[0.0, 0.0]])  # h0: the initial state
loss = 0
for t in range(3):
    h = tanh(xs[t] @ Wx + h @ Wh + b)
    out = h @ Wy
    loss = loss + sum((out - ys[t]) ** 2) / 2

model = Model(loss, lr=0.2, epochs=3, title="An Elman RNN, backpropagation through time over 3 steps")
