"""The Adam optimiser (Kingma and Ba, 2015, arXiv:1412.6980) over a list of numpy arrays updated in place."""
import numpy as np


class Adam:
    """Adam with bias-corrected first and second moment estimates.

    Parameters
    ----------
    params : list of float64 arrays, updated in place by :meth:`step`.
    lr : step size, in parameter units (the update is about lr per step while
        the gradient keeps its sign).
    beta1, beta2 : decay rates of the first and second moment estimates.
    eps : added to the root of the second moment to avoid division by zero.
    """

    def __init__(self, params, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.first = [np.zeros_like(p) for p in self.params]
        self.second = [np.zeros_like(p) for p in self.params]
        self.steps = 0

    def step(self, grads):
        """Apply one update; ``grads`` has one array per parameter, in the same order and shapes."""
        self.steps += 1
        correction1 = 1.0 - self.beta1 ** self.steps
        correction2 = 1.0 - self.beta2 ** self.steps
        for param, grad, first, second in zip(self.params, grads, self.first, self.second):
            first *= self.beta1
            first += (1.0 - self.beta1) * grad
            second *= self.beta2
            second += (1.0 - self.beta2) * grad * grad
            param -= self.lr * (first / correction1) / (np.sqrt(second / correction2) + self.eps)
