"""Analysis: which patterns are one problem, and which of them is its root cause.

    embed.py         template embeddings: the bundled all-MiniLM-L6-v2 in a child process,
                     vectors cached on disk
    request_sets.py  each pattern's requests as arrays, for comparing patterns request by request
    group.py         patterns joined by meaning and by directed co-occurrence; the root cause

Nothing is imported here: the embedding model's stack loads only when a triage groups patterns.
"""
