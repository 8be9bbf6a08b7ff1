"""The worked exercise that started symback: a 2-3-1 tanh/relu network, three epochs by hand.

The original hand solution treated the elementwise factor 1 − tanh²(u1) as a scalar, and
every number after it was wrong.  `symback derive examples/seed.py` shows the right ones.
"""

from symback import Model, data, param, relu, tanh

x = data([[2], [3]])  # 2x1 column; data is never trained
w1 = param([[1.3, -0.13, 0], [0.2, -1.3, 0.03]])
b1 = param([[0, 0.01, 1.3]])  # 1x3 row
w2 = param([[1.35, -0.5, 0.03]])
b2 = param(0.1)
w3 = param([[-0.3], [1]])
b3 = param(0.1)

u1 = b1 + x.T @ w1  # 1x3
h = tanh(u1)
z = h @ w2.T + b2  # 1x1
out = b3 + w3.T @ x + relu(z)
loss = (out - 6) ** 2 / 2

model = Model(loss, lr=0.1, epochs=3, relu_grad_at_zero=1, title="The seed exercise: a 2-3-1 tanh/relu network",
              notation={"u": "step"})  # a hand solution writes relu′ as u(·), the step function
