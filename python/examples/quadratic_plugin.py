"""A quadratic domain in the reference's plugin style, in pure Python (numpy optional).

Three classes with the reference's interface, served to a DOIN node by
``doin_plugin_sdk``:

* ``QuadraticOptimizer`` minimises ``sum((x_i - t_i)^2)`` by hill climbing, one
  ``optimize()`` call per round, and reports ``-sum((x_i - t_i)^2)`` (higher is better).
* ``QuadraticSyntheticData`` generates, deterministically per seed, the shared target and
  per-coordinate weights ``w_i`` in ``[1 - weight_noise, 1 + weight_noise]``.
* ``QuadraticInferencer`` scores ``-sum(w_i (x_i - t_i)^2)`` on that data, so that honest
  evaluations agree with the optimizer's report to within ``weight_noise`` at every
  distance from the target.

Config keys (shared by the three): ``target`` (a list) or ``target_seed`` (default 0) with
``n_params`` (default 10); ``step_size`` (default 0.5), ``trials`` (candidates per
``optimize()``, default 10), ``seed`` (the optimizer's RNG; the node passes a
node-specific one), ``weight_noise`` (default 0.01), ``param_bounds`` ``{"x": [lo, hi]}``.
The target is part of the domain, so every node optimises the same problem (the
reference drew a random target per process).
"""

import random


def _target(config):
    target = config.get("target")
    if target is not None:
        return [float(t) for t in target]
    n = int(config.get("n_params", 10))
    rng = random.Random(int(config.get("target_seed", 0)))
    return [rng.uniform(-5.0, 5.0) for _ in range(n)]


def _bounds(config):
    lo, hi = (config.get("param_bounds") or {}).get("x", (-20.0, 20.0))
    return float(lo), float(hi)


def _loss(x, target, weights=None):
    if weights is None:
        weights = [1.0] * len(target)
    return sum(w * (xi - ti) ** 2 for xi, ti, w in zip(x, target, weights))


class QuadraticOptimizer:
    """Hill climbing on the quadratic; one step per ``optimize()`` call."""

    def configure(self, config):
        self.target = _target(config)
        self.step_size = float(config.get("step_size", 0.5))
        self.trials = int(config.get("trials", 10))
        self.low, self.high = _bounds(config)
        self.rng = random.Random(config.get("seed"))

    def get_domain_metadata(self):
        return {"performance_metric": "neg_mse", "higher_is_better": True}

    def optimize(self, current_best_params, current_best_performance):
        x = (current_best_params or {}).get("x")
        if x is None or len(x) != len(self.target):
            x = [self.rng.uniform(self.low, self.high) for _ in self.target]
        best, best_loss = list(x), _loss(x, self.target)
        for _ in range(self.trials):
            cand = [min(self.high, max(self.low, xi + self.rng.gauss(0.0, self.step_size)))
                    for xi in best]
            loss = _loss(cand, self.target)
            if loss < best_loss:
                best, best_loss = cand, loss
                self.step_size *= 1.2
            else:
                self.step_size = max(1e-6, self.step_size * 0.98)
        return {"x": best}, -best_loss


class QuadraticInferencer:
    """Scores parameters on the synthetic data (or on the configured target)."""

    def configure(self, config):
        self.target = _target(config)

    def evaluate(self, parameters, data=None):
        x = [float(v) for v in parameters["x"]]
        if data is not None and "target" in data:
            return -_loss(x, data["target"], data.get("weights"))
        return -_loss(x, self.target)


class QuadraticSyntheticData:
    """Seeded evaluation data: the shared target and per-coordinate weights near 1."""

    def configure(self, config):
        self.target = _target(config)
        self.weight_noise = float(config.get("weight_noise", 0.01))

    def generate(self, seed=None):
        rng = random.Random(seed)
        weights = [1.0 + self.weight_noise * (2.0 * rng.random() - 1.0) for _ in self.target]
        return {"target": self.target, "weights": weights, "synthetic": True}
