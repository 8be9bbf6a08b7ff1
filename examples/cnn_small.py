"""A small CNN: a 2×2 kernel over a 5×5 image → relu → 2×2 max-pool → dense layer → softmax cross-entropy."""

from symback import Model, conv2d, cross_entropy, data, flatten, max_pool2d, param, relu

X = data([[0.1, 0.5, -0.2, 0.3, 0.0],
          [0.4, -0.1, 0.2, 0.6, -0.3],
          [0.0, 0.3, 0.5, -0.4, 0.2],
          [-0.2, 0.1, 0.4, 0.2, 0.1],
          [0.3, -0.3, 0.0, 0.1, 0.5]])  # one 5×5 single-channel image
Y = data([[0, 1, 0]])  # one-hot target: class 2 of 3
K = param([[0.2, -0.1], [0.3, 0.4]])  # 2×2 kernel
c = param(0.1)  # the kernel's bias, added to every entry
W = param([[0.1, -0.2, 0.3], [0.2, 0.1, -0.1], [-0.3, 0.2, 0.1], [0.1, 0.1, 0.2]])
b = param([[0.0, 0.1, -0.1]])

Z = conv2d(X, K) + c  # 4×4 feature map (cross-correlation, stride 1, no padding)
A = relu(Z)
P = max_pool2d(A, 2)  # 2×2: the maximum of each 2×2 window
logits = flatten(P) @ W + b  # P read row by row as a 1×4 row
loss = cross_entropy(logits, Y)

model = Model(loss, lr=0.5, epochs=3, title="A small CNN: convolution, relu, max-pool, dense, softmax")
