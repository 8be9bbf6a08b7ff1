from symback import Model, param, data, tanh, mse

xs = [data([0.5, -0.2]), data([0.1, 0.4]), data([-0.3, 0.8])]
y = data([0.2, -0.1])
W = param([[0.1, -0.3], [0.2, 0.4]])
U = param([[0.5, 0.1], [-0.2, 0.3]])
b = param([0.05, -0.05])

h = data([0.0, 0.0])
for x in xs:
    h = tanh(W @ h + U @ x + b)
loss = mse(h, y)
model = Model(loss, lr=0.1, epochs=1, title="A recurrent network over three time steps")
