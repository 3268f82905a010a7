"""What people drive: the command line, the pictures, the notebook widgets, the exercises.

- ``cli``: ``python -m ntm_numpy {demo,train,evaluate,gradcheck,figures,export,resize}``;
- ``viz``: the pictures of a model at work (memory, weights, heads, the learning curve);
- ``figures``: the README's figures, drawn from the shipped models and their training logs;
- ``interactive``: the notebooks' widgets (explorers of addressing and writing, scrubbers);
- ``exercises``: the backward-pass exercises and their grader.
"""
