"""The tutoring room: which exercise next, and what a policy does to simulated students.

``recommend`` (beliefs and recommenders: random, blocked, interleaved, mastery, ZPD, greedy,
expectimax, oracle), ``simulation`` (tutoring sessions over a simulated class, comparisons
with confidence intervals), ``gain_model`` (what practice teaches, learned on a belief's
state), ``policy_improvement`` (the rollout policy: a heuristic improved by its learned rollout
values), ``attention_belief`` (SAKT, AKT, simpleKT as beliefs), ``dqn_tutor`` (a DQN whose
state is a knowledge model's estimate).
"""
