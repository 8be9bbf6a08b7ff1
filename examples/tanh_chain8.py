"""A depth-8 chain of 3x3 tanh layers: derivation stays linear in depth (no expression swell)."""

from symback import Model, data, mean, param, tanh

x = data([0.5, -0.3, 0.8])
y = data([0.1, 0.2, -0.1])

h0 = x
w1 = param([[0.5, -0.2, 0.1], [0.3, 0.4, -0.5], [-0.1, 0.2, 0.6]])
h1 = tanh(w1 @ h0)
w2 = param([[0.2, 0.1, -0.3], [-0.4, 0.5, 0.2], [0.3, -0.1, 0.4]])
h2 = tanh(w2 @ h1)
w3 = param([[0.6, -0.3, 0.2], [0.1, 0.4, -0.2], [-0.5, 0.2, 0.3]])
h3 = tanh(w3 @ h2)
w4 = param([[0.3, 0.2, -0.1], [-0.2, 0.6, 0.1], [0.4, -0.3, 0.5]])
h4 = tanh(w4 @ h3)
w5 = param([[0.5, 0.1, 0.2], [-0.3, 0.4, -0.4], [0.2, -0.2, 0.6]])
h5 = tanh(w5 @ h4)
w6 = param([[0.4, -0.5, 0.1], [0.2, 0.3, 0.3], [-0.1, 0.4, 0.5]])
h6 = tanh(w6 @ h5)
w7 = param([[0.3, 0.3, -0.2], [-0.4, 0.1, 0.5], [0.2, 0.5, 0.1]])
h7 = tanh(w7 @ h6)
w8 = param([[0.6, -0.1, 0.3], [0.1, 0.5, -0.3], [-0.2, 0.2, 0.4]])
out = tanh(w8 @ h7)
loss = mean((out - y) ** 2)

model = Model(loss, lr=0.2, epochs=3, optimizer="adam", title="Depth-8 tanh chain")
