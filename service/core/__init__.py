"""Pure numerics of learndyn: numpy and scipy only, no web framework, no pydantic.

Conventions shared by every module (DESIGN §1): data are n examples, rows ``u^i`` of the
n×m matrix A, targets ``y_i ∈ {+1, −1}``; ``B = diag(y)·A`` (with a column of ones appended
first when a bias is asked for); the error is ``E(x) = Σ_i (1 − θ(B_i·x))²`` with no factor
1/2, the paper's (**); gradient descent is ``x_{k+1} = x_k − η·∇E(x_k)`` and t counts steps.
"""
