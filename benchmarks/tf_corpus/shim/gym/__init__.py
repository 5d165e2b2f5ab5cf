"""A gym stand-in for the corpus: make('CartPole-v0') is the classic cart-pole (the dynamics of
gym's CartPoleEnv, Euler steps of 0.02 s, 200 steps an episode) with gym 0.8's API: reset()
returns the observation, step() (observation, reward, done, info); render() draws nothing."""

from __future__ import annotations

import math

import numpy as np


class Discrete:
    def __init__(self, n):
        self.n = n

    def sample(self):
        return int(np.random.randint(self.n))


class Box:
    def __init__(self, low, high):
        self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        self.shape = self.low.shape


class CartPole:
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_episode_steps = 200

    def __init__(self, seed=0):
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold_radians * 2, np.inf])
        self.action_space = Discrete(2)
        self.observation_space = Box(-high, high)
        self.rng = np.random.RandomState(seed)
        self.state, self.steps = None, 0

    @property
    def unwrapped(self):
        return self

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)
        return [seed]

    def reset(self):
        self.state, self.steps = self.rng.uniform(-0.05, 0.05, size=(4,)), 0
        return np.array(self.state)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        cos, sin = math.cos(theta), math.sin(theta)
        total, pml = self.masspole + self.masscart, self.masspole * self.length
        temp = (force + pml * theta_dot**2 * sin) / total
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / total)
        )
        x_acc = temp - pml * theta_acc * cos / total
        x, x_dot = x + self.tau * x_dot, x_dot + self.tau * x_acc
        theta, theta_dot = theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.steps += 1
        done = bool(
            abs(x) > self.x_threshold
            or abs(theta) > self.theta_threshold_radians
            or self.steps >= self.max_episode_steps
        )
        return np.array(self.state), 1.0, done, {}

    def render(self, *a, **k):
        return None

    def close(self):
        pass


ENVS = {"CartPole-v0": CartPole, "CartPole-v1": CartPole}


def make(name):
    return ENVS[name]()
