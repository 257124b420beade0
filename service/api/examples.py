"""The paper's cases as named request examples, one table per operation.

Each entry is an OpenAPI Example object (``summary``, ``description``, ``value``) given to
``Body(openapi_examples=...)``; Swagger UI offers them in a drop-down, ReDoc lists them. A test
validates every example of every operation against the operation's request schema and sends it
to the service, expecting 200.
"""

from __future__ import annotations

from fastapi.openapi.models import Example

TRAIN_EXAMPLES: dict[str, Example] = {
    "log_rule": {
        "summary": "The paper's log rule: E(x) = (tanh x − 1)², x₀ = 0",
        "description": "One input 1 with target +1 (§3 of the paper). The only minimum is at "
        "+∞: the weight grows like (1/4)·log t, so the steps shrink like 1/(4t) while the "
        "weight diverges, and t·(x(t+1) − x(t)) in the history settles near 1/4.",
        "value": {
            "dataset": {"inputs": [[1.0]], "targets": [1]},
            "activation": "tanh",
            "method": "gd",
            "learning_rate": 0.1,
            "steps": 10000,
            "record": {"points": 20},
        },
    },
    "polynomial_tail": {
        "summary": "The same run with arctan: a polynomial tail",
        "description": "θ = (2/π)·atan has 1 − θ(x) ≈ (2/π)/x, so ẋ ∝ x⁻³ and the weight "
        "grows like t^(1/4): faster than any logarithm, which is why the tail of θ matters.",
        "value": {
            "dataset": {"inputs": [[1.0]], "targets": [1]},
            "activation": "arctan",
            "learning_rate": 0.1,
            "steps": 10000,
            "record": {"points": 20},
        },
    },
    "figure_5_xor": {
        "summary": "The paper's Figure 5: XOR on a 2-2-1 tanh net with biases",
        "description": "Inputs ±1, targets y = −x1·x2, gd with η = 0.05 for 10^6 steps from "
        "seed 0. The error goes to 0 while the output layer's weights grow like b·log t: its "
        "t·(w(t+1) − w(t)) (the last three columns of the history, and layers[1]) settles to "
        "constants, with a drift under 1% over the last decade; the hidden layer moves ever "
        "more slowly (Kung and Hwang).",
        "value": {
            "dataset": {
                "inputs": [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
                "targets": [-1, 1, 1, -1],
                "bias": True,
            },
            "activation": "tanh",
            "network": {"hidden": [2]},
            "method": "gd",
            "learning_rate": 0.05,
            "steps": 1000000,
            "seed": 0,
            "record": {"points": 50},
        },
    },
}

# For POST /minima and POST /separability, which are built on other branches: their routers
# pass these to Body(openapi_examples=...) once merged.
MINIMA_EXAMPLES: dict[str, Example] = {
    "type_3_landscape": {
        "summary": "Sontag's type 3: V spanned by (1, −a), a = 3, tanh",
        "description": "Inputs 1 and −3, both targets +1: E(x) = (tanh x − 1)² + "
        "(tanh 3x + 1)². E(1) > 4 while E → 4 as x → ±∞, so there is a finite local maximum "
        "and a local minimum on each side of it: one finite (the global minimum) and one at "
        "x = +∞ (§2 of the paper, Figures 2 and 4).",
        "value": {
            "dataset": {"inputs": [[1.0], [-3.0]], "targets": [1, 1]},
            "activation": "tanh",
        },
    },
    "arctan_polynomial_tails": {
        "summary": "Type 3 with a = 10, arctan: two finite minima, none at infinity",
        "description": "Inputs 1 and −10, both targets +1, θ = (2/π)·atan. The polynomial tails "
        "change the picture: E has minima near x ≈ −0.155 and x ≈ 2.724 with a maximum "
        "between, and E approaches 4 from below at both ends, so neither infinity is a local "
        "minimum.",
        "value": {
            "dataset": {"inputs": [[1.0], [-10.0]], "targets": [1, 1]},
            "activation": "arctan",
        },
    },
}

SEPARABILITY_EXAMPLES: dict[str, Example] = {
    "xor": {
        "summary": "XOR with a bias input: not separable",
        "description": "The four corners of the square with XOR labels (±1), a threshold "
        "weight appended. No weights separate them, strictly or weakly: λ = (1, 1, 1, 1)/4 "
        "has every λ_i > 0 and Bᵀλ = 0, a Stiemke certificate (hence also Gordan's), so the "
        "Lemma does not apply and gradient descent may keep its weights bounded.",
        "value": {
            "dataset": {
                "inputs": [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
                "targets": [-1, 1, 1, -1],
                "bias": True,
            },
        },
    },
    "separable": {
        "summary": "Five points in the plane: strictly separable, with the max-margin weights",
        "description": "Strictly separable, so the Lemma applies (no bounded trajectory) and "
        "the answer carries the hard-margin weights ŵ = argmin ‖w‖ subject to B·w ≥ 1 "
        "(here ŵ = (2/3, 2/3)) with its support vectors.",
        "value": {
            "dataset": {
                "inputs": [[2.0, 1.0], [1.0, 3.0], [-1.0, -1.0], [-2.0, 0.5], [0.5, -2.0]],
                "targets": [1, 1, -1, -1, -1],
            },
        },
    },
}

FIGURE_TRAIN_EXAMPLES: dict[str, Example] = {
    "log_rule_svg": {
        "summary": "The log rule drawn: E(x) = (tanh x − 1)², as SVG",
        "description": "The /train example 'log_rule' as a figure: the error falls like "
        "1/(8t)·…, the weight climbs like (1/4)·log t (a straight line on the log-t axis) and "
        "t·(x(t+1) − x(t)) settles near 1/4: the paper's Figure 5 statistic for one weight.",
        "value": {
            "dataset": {"inputs": [[1.0]], "targets": [1]},
            "activation": "tanh",
            "learning_rate": 0.1,
            "steps": 10000,
            "record": {"points": 100},
            "format": "svg",
        },
    },
    "two_weights_png": {
        "summary": "Two separable points with a bias, as PNG",
        "description": "Inputs 1 and −1 with targets +1 and −1 and a threshold weight: the "
        "data are strictly separable, so no trajectory is bounded (the Lemma); both weights "
        "are drawn against log t with their t·Δw.",
        "value": {
            "dataset": {"inputs": [[1.0], [-1.0]], "targets": [1, -1], "bias": True},
            "activation": "tanh",
            "learning_rate": 0.05,
            "steps": 20000,
            "seed": 7,
            "record": {"points": 100},
            "format": "png",
        },
    },
}

FIGURE_MINIMA_EXAMPLES: dict[str, Example] = {
    "type_3_figure": {
        "summary": "Type 3, a = 3, tanh: E and the image curve TV (Figures 2 and 4), as SVG",
        "description": "Inputs 1 and −3, both targets +1. The left panel marks the finite "
        "global minimum, the maximum and the minimum at +∞ (E → 4 from above); the right one "
        "draws TV in [−1, 1]² with e = (1, 1) and the nearest point of clos TV.",
        "value": {
            "dataset": {"inputs": [[1.0], [-3.0]], "targets": [1, 1]},
            "activation": "tanh",
            "format": "svg",
        },
    },
    "three_points_png": {
        "summary": "Three examples, arctan, as PNG: E(x) alone (no image panel for n ≠ 2)",
        "description": "Inputs 1, 2 and −1 with targets +1, +1 and +1 under θ = (2/π)·atan: "
        "one finite minimum (near x ≈ 0.51), while E tends to 4 at +∞ and to 8 at −∞, both "
        "from below, so neither end is marked as a minimum.",
        "value": {
            "dataset": {"inputs": [[1.0], [2.0], [-1.0]], "targets": [1, 1, 1]},
            "activation": "arctan",
            "curve": {"points": 401},
            "format": "png",
        },
    },
}


STUDY_EXAMPLES: dict[str, Example] = {
    "rate_and_start": {
        "summary": "The paper's Figure 2 case over learning rates and starts",
        "description": "Inputs 1 and 3 with targets +1 and −1 (tanh): a finite (global) minimum "
        "left of a maximum and a minimum at +∞ right of it. Nine runs, three learning rates "
        "(0.01 to 1, log-spaced) by three seeds; the summary counts the verdicts, overall and "
        "per axis value.",
        "value": {
            "kind": "sweep",
            "name": "Figure 2: rate and start",
            "base": {
                "dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]},
                "steps": 10000,
                "record": {"points": 50},
            },
            "grid": {
                "learning_rate": {"log_range": [0.01, 1.0, 3]},
                "seed": {"range": [0, 3]},
            },
        },
    },
    "tails": {
        "summary": "The scalar log-rule example for each activation",
        "description": "One input 1 with target +1, 10⁴ steps at η = 0.1, for tanh, logistic, "
        "arctan and erf: the tails of 1 − θ decide the verdicts (logarithmic for the "
        "exponential tails, faster for arctan's polynomial one, slower for erf's Gaussian).",
        "value": {
            "kind": "sweep",
            "name": "tails",
            "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10000},
            "grid": {"activation": ["tanh", "logistic", "arctan", "erf"]},
        },
    },
    "census": {
        "summary": "A census of the minima of the Figure 2 case",
        "description": "64 starts spread (scrambled Sobol) over [−3, 3], each run 10⁵ steps to "
        "its verdict: the finite global minimum at x ≈ −0.18 (E ≈ 1.645) and the minimum at "
        "+∞ (E → 4), with their basins, and Chao1's estimate of the minima never reached.",
        "value": {
            "kind": "census",
            "name": "Figure 2: minima",
            "dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]},
            "starts": 64,
            "init": 3.0,
            "steps": 100000,
        },
    },
    "census_xor": {
        "summary": "A census of XOR on a 2-2-1 tanh net",
        "description": "32 starts in [−1, 1]⁹: the zero-error minimum at infinity (its 8 "
        "symmetric copies counted once) and the minima at E = 2 that fit two of the points.",
        "value": {
            "kind": "census",
            "dataset": {
                "inputs": [[-1, -1], [-1, 1], [1, -1], [1, 1]],
                "targets": [-1, 1, 1, -1],
                "bias": True,
            },
            "network": {"hidden": [2]},
            "starts": 32,
            "init": 1.0,
            "steps": 100000,
        },
    },
    "extrapolation": {
        "summary": "The log rule tested: predicted against actual weights, per activation",
        "description": "The scalar example (one input 1, target +1, η = 0.1) run 10⁴ steps for "
        "each activation; where the verdict is logarithmic the log rule predicts the weights "
        "and E at 10⁵ and 10⁶ steps, and the runs to 10⁵ and 10⁶ steps say how well: tanh "
        "within 1% (it predicts well), logistic within 2% (it drifts), and for arctan (power "
        "law) and erf (sub-logarithmic) the log rule does not apply.",
        "value": {
            "kind": "extrapolation",
            "name": "log rule",
            "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10000},
            "grid": {"activation": ["tanh", "logistic", "arctan", "erf"]},
            "factors": [10, 100],
        },
    },
}
