"""Label quality science: agreement, aggregation, label-error detection and drift.

The modules ``agreement``, ``aggregation``, ``label_errors`` and ``drift`` are pure (numpy/scipy over
arrays, no I/O); ``service`` runs them over a project's store and acts on the results.
"""
