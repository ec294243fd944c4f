"""The tutoring room: which exercise next, and what a policy does to simulated students.

``recommend`` (beliefs and recommenders: random, blocked, interleaved, mastery, ZPD, greedy,
expectimax, oracle), ``simulation`` (tutoring sessions over a simulated class, comparisons
with confidence intervals), ``dqn_tutor`` (a DQN whose state is a knowledge model's estimate).
"""
