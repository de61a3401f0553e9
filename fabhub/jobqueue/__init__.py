"""The durable job queue: files, jobs, machines, classes, certifications, reservations,
quotas, and the scheduling pass that joins them to the matcher in ``fabhub.jobs``."""
